//! Changing a password (with the current one) and resetting a forgotten one by mail.

use chrono::Utc;
use common::{
    ApiError, ApiResult,
    auth::BearerAuth,
    domain::EmailAddress,
    json::JsonBody,
    messages::{EmailContent, EmailRequestedV1},
};
use mongodb::bson;
use poem::Request;
use poem_openapi::{ApiResponse, OpenApi, payload::Json};

use super::{
    Ctx, Tag,
    auth::{client_address, issue},
    bodies::{self, EmailIn, PasswordChangeIn, ResetConfirmIn},
    users::current_user,
    views::TokensOut,
};
use crate::{outbox, store::PasswordReset, tokens::OpaqueToken};

/// How long a reset token works.
pub const RESET_TTL: chrono::Duration = chrono::Duration::hours(1);

pub struct PasswordsApi {
    pub ctx: Ctx,
}

#[derive(ApiResponse)]
enum ResetRequested {
    /// If the address belongs to an account, a reset email is on its way to it; the answer is
    /// the same when it does not.
    #[oai(status = 202)]
    Accepted,
}

#[derive(ApiResponse)]
enum ResetDone {
    /// The password is changed and every login of the account has ended.
    #[oai(status = 204)]
    NoContent,
}

#[OpenApi(prefix_path = "/api/v1")]
impl PasswordsApi {
    /// Change the caller's password, confirmed with the current one (403 if wrong; attempts
    /// are limited as logins are). Every login of the account ends, this one included; the
    /// answer is a new token pair for a new login, so the caller stays signed in.
    #[oai(
        path = "/users/me/password",
        method = "put",
        operation_id = "users.change_password",
        tag = "Tag::Users"
    )]
    async fn change(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: JsonBody<PasswordChangeIn>,
    ) -> ApiResult<Json<TokensOut>> {
        let PasswordChangeIn {
            current_password,
            new_password,
        } = body.0;
        let new_password = bodies::password(new_password)
            .map_err(|err| ApiError::invalid("new_password", err.to_string()))?;
        let user = current_user(&self.ctx, &auth).await?;
        if let Some(address) = user.primary_email() {
            let client = client_address(req, &self.ctx.trusted_proxies);
            self.ctx.limits.check(address, client)?;
        }
        let confirmed = match bodies::password(current_password) {
            Ok(current) => {
                let stored = Some(user.password_hash.clone());
                self.ctx.passwords.verify(current, stored).await?
            }
            Err(_) => false,
        };
        if !confirmed {
            return Err(ApiError::Forbidden("the current password is wrong".into()));
        }
        let hash = self.ctx.passwords.hash(new_password).await?;
        self.ctx.store.set_password_hash(user.id, &hash).await?;
        self.ctx.store.revoke_sessions_of(user.id).await?;
        let session = self.ctx.store.start_session(user.id).await?;
        tracing::info!(user_id = %user.id, "password changed; other logins ended");
        Ok(Json(issue(&self.ctx, &user, &session).await?))
    }

    /// Ask for a password reset: a single-use token, valid for an hour, is mailed to the
    /// primary address of the account holding the given address. The answer is 202 whether or not the address belongs to an
    /// account, so it reveals nothing; requests are limited per address and client (429).
    #[oai(
        path = "/auth/password-reset",
        method = "post",
        operation_id = "auth.request_password_reset",
        tag = "Tag::Auth"
    )]
    async fn request_reset(
        &self,
        req: &Request,
        body: JsonBody<EmailIn>,
    ) -> ApiResult<ResetRequested> {
        let Ok(address) = EmailAddress::parse(&body.email) else {
            return Err(ApiError::invalid(
                "email",
                "must be an email address like name@example.com",
            ));
        };
        let client = client_address(req, &self.ctx.trusted_proxies);
        self.ctx.limits.check(&address, client)?;
        let Some(user) = self.ctx.store.find_by_email(&address).await? else {
            return Ok(ResetRequested::Accepted);
        };
        // Whichever of its addresses was given, the mail goes to the primary one: whoever reads
        // it is who the account answers to.
        let Some(primary) = user.primary_email() else {
            return Ok(ResetRequested::Accepted);
        };
        let token = OpaqueToken::generate()?;
        let expires_at = Utc::now() + RESET_TTL;
        self.ctx
            .store
            .add_password_reset(&PasswordReset {
                digest: token.digest(),
                user_id: user.id,
                expires_at: bson::DateTime::from_chrono(expires_at),
            })
            .await?;
        let mail = outbox::email(
            user.id,
            &EmailRequestedV1 {
                to: primary.clone(),
                content: EmailContent::ResetPassword {
                    token: token.reveal().to_owned(),
                    expires_at,
                    link: Some(self.ctx.links.reset_password(token.reveal())),
                },
                requested_at: Utc::now(),
            },
        )?;
        self.ctx.store.enqueue(&[mail]).await?;
        self.ctx.relay.nudge();
        tracing::info!(user_id = %user.id, "password reset mailed");
        Ok(ResetRequested::Accepted)
    }

    /// Set a new password with the token from a reset email. The token works once, for an
    /// hour; using it ends every login of the account.
    #[oai(
        path = "/auth/password-reset/confirm",
        method = "post",
        operation_id = "auth.confirm_password_reset",
        tag = "Tag::Auth"
    )]
    async fn confirm_reset(&self, body: JsonBody<ResetConfirmIn>) -> ApiResult<ResetDone> {
        let ResetConfirmIn { token, password } = body.0;
        let password = bodies::password(password)
            .map_err(|err| ApiError::invalid("password", err.to_string()))?;
        let invalid = || ApiError::invalid("token", "is invalid, used or expired");
        let digest = OpaqueToken::from_client(token).digest();
        let reset = self
            .ctx
            .store
            .password_reset(&digest)
            .await?
            .filter(|reset| reset.expires_at > bson::DateTime::now())
            .ok_or_else(invalid)?;
        if !self.ctx.store.spend_password_reset(&digest).await? {
            return Err(invalid());
        }
        let hash = self.ctx.passwords.hash(password).await?;
        self.ctx
            .store
            .set_password_hash(reset.user_id, &hash)
            .await?;
        self.ctx.store.revoke_sessions_of(reset.user_id).await?;
        tracing::info!(user_id = %reset.user_id, "password reset; every login ended");
        Ok(ResetDone::NoContent)
    }
}
