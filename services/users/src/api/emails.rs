use chrono::Utc;
use common::{
    ApiError, ApiResult,
    auth::BearerAuth,
    domain::{EmailAddress, UserId},
    idempotency::{NewId, idempotent},
    json::JsonBody,
    messages::{
        self, EmailContent, EmailRequestedV1, UserEmailRemovedV1, UserPrimaryEmailChangedV1,
    },
};
use mongodb::bson;
use poem::Request;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path},
    payload::Json,
};

use super::{
    Ctx, Tag,
    bodies::{EmailIn, VerifyIn},
    users::current_user,
    views::{EmailOut, ProfileOut},
};
use crate::{
    mail_links::MailLinks,
    outbox,
    store::{ClaimError, OutboxMessage, Verification},
    tokens::OpaqueToken,
};

/// How long a verification token works.
pub const VERIFICATION_TTL: chrono::Duration = chrono::Duration::hours(24);

/// Most addresses one account may hold.
pub const MAX_EMAILS: usize = 10;

pub struct EmailsApi {
    pub ctx: Ctx,
}

#[derive(ApiResponse)]
enum Added {
    /// Added, unverified; a verification email is on its way to it.
    #[oai(status = 201)]
    Created(Json<EmailOut>),
}

#[derive(ApiResponse)]
enum Done {
    /// Done.
    #[oai(status = 204)]
    NoContent,
}

/// A new verification of `address` for `user_id`, and the message that mails its token.
pub fn verification(
    user_id: UserId,
    address: &EmailAddress,
    links: &MailLinks,
) -> anyhow::Result<(Verification, OutboxMessage)> {
    let token = OpaqueToken::generate()?;
    let expires_at = Utc::now() + VERIFICATION_TTL;
    let message = outbox::email(
        user_id,
        &EmailRequestedV1 {
            to: address.clone(),
            content: EmailContent::VerifyAddress {
                token: token.reveal().to_owned(),
                expires_at,
                link: Some(links.verify(token.reveal())),
            },
            requested_at: Utc::now(),
        },
    )?;
    let verification = Verification {
        digest: token.digest(),
        user_id,
        address: address.clone(),
        expires_at: bson::DateTime::from_chrono(expires_at),
    };
    Ok((verification, message))
}

fn parse_email(raw: &str) -> ApiResult<EmailAddress> {
    EmailAddress::parse(raw).map_err(|err| ApiError::invalid("email", err.to_string()))
}

#[OpenApi(prefix_path = "/api/v1/users/me/emails", tag = "Tag::Users")]
impl EmailsApi {
    /// Add a secondary address. It starts unverified; a verification email with a single-use
    /// token valid for 24 hours is sent to it. 409 if any account holds it.
    ///
    /// Send an `Idempotency-Key` to retry safely: the same key and body within 24 h answer as
    /// the first request did.
    #[oai(
        path = "/",
        method = "post",
        operation_id = "users.add_email",
        transform = "idempotent"
    )]
    async fn add_email(
        &self,
        auth: BearerAuth,
        request: &Request,
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        _idempotency_key: Header<Option<String>>,
        body: JsonBody<EmailIn>,
    ) -> ApiResult<Added> {
        let address = parse_email(&body.email)?;
        let user = current_user(&self.ctx, &auth).await?;
        if NewId::of(request).retried()
            && let Some(earlier) = user.emails.iter().find(|email| email.address == address)
        {
            return Ok(Added::Created(Json(EmailOut::from(earlier))));
        }
        if user.emails.len() >= MAX_EMAILS {
            return Err(ApiError::Conflict(format!(
                "an account holds at most {MAX_EMAILS} addresses"
            )));
        }
        let (verification, message) = verification(user.id, &address, &self.ctx.links)?;
        self.ctx.store.enqueue(&[message]).await?;
        match self.ctx.store.add_email(user.id, &verification).await {
            Ok(()) => {}
            Err(ClaimError::Taken) => {
                return Err(ApiError::Conflict(
                    "this address belongs to an account".into(),
                ));
            }
            Err(ClaimError::Store(err)) => return Err(err.into()),
        }
        self.ctx.relay.nudge();
        Ok(Added::Created(Json(EmailOut {
            email: address.to_string(),
            verified: false,
            primary: false,
        })))
    }

    /// Prove ownership of an address with the token from its verification email. Needs no
    /// login: the token is the proof. Each token works once and expires after 24 hours.
    #[oai(path = "/verify", method = "post", operation_id = "users.verify_email")]
    async fn verify(&self, body: JsonBody<VerifyIn>) -> ApiResult<Done> {
        let invalid = || ApiError::invalid("token", "is invalid, used or expired");
        let digest = OpaqueToken::from_client(body.0.token).digest();
        let verification = self
            .ctx
            .store
            .take_verification(&digest)
            .await?
            .ok_or_else(invalid)?;
        if verification.expires_at < bson::DateTime::now() {
            return Err(invalid());
        }
        let mut user = self
            .ctx
            .store
            .find(verification.user_id)
            .await?
            .ok_or_else(invalid)?;
        let entry = user
            .emails
            .iter_mut()
            .find(|e| e.address == verification.address)
            .ok_or_else(invalid)?;
        entry.verified = true;
        if entry.primary {
            announce_primary(&self.ctx, user.id, &entry.address).await?;
        }
        self.ctx.store.set_emails(user.id, &user.emails).await?;
        self.ctx.relay.nudge();
        Ok(Done::NoContent)
    }

    /// Make a verified address of the account its primary one.
    #[oai(
        path = "/primary",
        method = "put",
        operation_id = "users.set_primary_email"
    )]
    async fn set_primary(
        &self,
        auth: BearerAuth,
        body: JsonBody<EmailIn>,
    ) -> ApiResult<Json<ProfileOut>> {
        let address = parse_email(&body.email)?;
        let mut user = current_user(&self.ctx, &auth).await?;
        let target = user
            .emails
            .iter()
            .find(|e| e.address == address)
            .ok_or(ApiError::NotFound("address on this account"))?;
        if !target.verified {
            return Err(ApiError::Conflict(
                "verify the address before making it primary".into(),
            ));
        }
        if !target.primary {
            announce_primary(&self.ctx, user.id, &address).await?;
        }
        for email in &mut user.emails {
            email.primary = email.address == address;
        }
        self.ctx.store.set_emails(user.id, &user.emails).await?;
        self.ctx.relay.nudge();
        Ok(Json(ProfileOut::from(&user)))
    }

    /// Remove a secondary address; the primary one cannot be removed. Reminders addressed to it
    /// go to the primary address from now on.
    #[oai(
        path = "/:email",
        method = "delete",
        operation_id = "users.remove_email"
    )]
    async fn remove(
        &self,
        auth: BearerAuth,
        #[oai(validator(max_length = 254))] email: Path<String>,
    ) -> ApiResult<Done> {
        // What cannot be an address cannot be one of this account's: not found, as an odd id.
        let address = EmailAddress::parse(&email.0)
            .map_err(|_| ApiError::NotFound("address on this account"))?;
        let user = current_user(&self.ctx, &auth).await?;
        let entry = user
            .emails
            .iter()
            .find(|e| e.address == address)
            .ok_or(ApiError::NotFound("address on this account"))?;
        if entry.primary {
            return Err(ApiError::Conflict(
                "the primary address cannot be removed".into(),
            ));
        }
        let primary = user
            .emails
            .iter()
            .find(|e| e.primary)
            .ok_or_else(|| anyhow::anyhow!("an account without a primary address"))?;
        // Queued before the write, as every message is (see `outbox`): reminders addressed to
        // the removed address move to the primary one.
        let removed = UserEmailRemovedV1 {
            user_id: user.id,
            removed: address.clone(),
            primary: primary.address.clone(),
            removed_at: Utc::now(),
        };
        let message = outbox::domain(user.id, messages::USER_EMAIL_REMOVED_V1, &removed)?;
        self.ctx.store.enqueue(&[message]).await?;
        self.ctx.store.remove_email(user.id, entry).await?;
        self.ctx.relay.nudge();
        Ok(Done::NoContent)
    }
}

/// Queues the news that `user`'s primary address is `address`, verified: before the write, as
/// every message is (see `outbox`).
async fn announce_primary(ctx: &Ctx, user: UserId, address: &EmailAddress) -> ApiResult<()> {
    let changed = UserPrimaryEmailChangedV1 {
        user_id: user,
        email: address.clone(),
        changed_at: Utc::now(),
    };
    let message = outbox::domain(user, messages::USER_PRIMARY_EMAIL_CHANGED_V1, &changed)?;
    ctx.store.enqueue(&[message]).await?;
    Ok(())
}
