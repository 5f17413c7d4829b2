use chrono::Utc;
use common::{
    ApiError, ApiResult,
    auth::{BearerAuth, Role},
    domain::{EmailAddress, Topic, UserId},
    idempotency::{NewId, idempotent},
    json::JsonBody,
    messages::{self, EmailContent, EmailRequestedV1, UserTimezoneChangedV1},
    problem::FieldErrors,
    routes::Access,
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
    bodies::{self, PasswordIn, ProfilePatch, RegisterIn, RolesIn},
    emails,
    views::{ProfileOut, RolesOut},
};
use crate::{
    outbox,
    store::{ClaimError, Email, ProfileChange, User},
};

/// Registering accounts and managing their roles.
pub struct UsersApi {
    pub ctx: Ctx,
}

/// The caller's own account (`/me`): every method of one path in one struct, since a second
/// struct's operations on the same path replace the first's in the OpenAPI document.
pub struct AccountApi {
    pub ctx: Ctx,
}

#[derive(ApiResponse)]
enum Registered {
    /// The account exists; a welcome email is on its way.
    #[oai(status = 201)]
    Created(
        Json<ProfileOut>,
        /// Where the profile can be read (with the account's token).
        #[oai(header = "Location")]
        String,
    ),
}

impl Registered {
    fn of(user: &User) -> Self {
        Self::Created(Json(ProfileOut::from(user)), "/api/v1/users/me".into())
    }
}

#[OpenApi(prefix_path = "/api/v1/users", tag = "Tag::Users")]
impl UsersApi {
    /// Register an account. The address must not belong to another account (case-insensitive);
    /// a welcome email and a verification email (for reminders to be sent to it) are sent to it.
    ///
    /// Send an `Idempotency-Key` to retry safely: the same key and body within 24 h answer as
    /// the first request did, and register nothing more.
    #[oai(
        path = "/",
        method = "post",
        operation_id = "users.register",
        transform = "idempotent"
    )]
    async fn register(
        &self,
        request: &Request,
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        _idempotency_key: Header<Option<String>>,
        body: JsonBody<RegisterIn>,
    ) -> ApiResult<Registered> {
        let new_id = NewId::of(request);
        if new_id.retried()
            && let Some(earlier) = self.ctx.store.find(new_id.id()).await?
        {
            return Ok(Registered::of(&earlier));
        }
        if new_id.retried() {
            // The earlier attempt (over: its key was released) may have queued mail for the
            // account it did not store; this attempt queues its own.
            self.ctx.store.drop_queued_for(new_id.id()).await?;
        }
        let RegisterIn {
            email,
            password,
            display_name,
            timezone,
        } = body.0;
        let mut errors = FieldErrors::default();
        let email = errors.check("email", EmailAddress::parse(&email));
        let password = errors.check("password", bodies::password(password));
        let display_name = errors.check(
            "display_name",
            bodies::display_name(display_name.as_deref()),
        );
        let timezone = errors.check("timezone", bodies::timezone(timezone.as_deref()));
        errors.result()?;
        let (Some(email), Some(password), Some(display_name), Some(timezone)) =
            (email, password, display_name, timezone)
        else {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "parsed fields went missing"
            )));
        };

        let now = bson::DateTime::now();
        let mut roles = vec![Role::User];
        if self.ctx.admin_emails.contains(&email) {
            roles.push(Role::Admin);
        }
        let welcome = EmailRequestedV1 {
            to: email.clone(),
            content: EmailContent::Welcome {
                display_name: display_name.as_ref().map(|n| n.as_str().to_owned()),
            },
            requested_at: Utc::now(),
        };
        let id = new_id.id();
        // Queued in this order (the relay sends oldest first): welcome, then the verification.
        let welcome_message = outbox::email(id, &welcome)?;
        let (verification, verify_message) = emails::verification(id, &email, &self.ctx.links)?;
        let user = User {
            id,
            display_name,
            emails: vec![Email {
                address: email,
                verified: false,
                primary: true,
            }],
            interests: Vec::new(),
            timezone: timezone.map(|zone| zone.name().to_owned()),
            roles,
            password_hash: self.ctx.passwords.hash(password).await?,
            created_at: now,
            updated_at: now,
            deleted: false,
        };
        // Queued first; the relay sends them only once the account exists (see outbox.rs).
        let messages = [welcome_message, verify_message];
        self.ctx.store.enqueue(&messages).await?;
        self.ctx.store.add_verification(&verification).await?;
        match self.ctx.store.register(&user).await {
            Ok(()) => {}
            Err(ClaimError::Taken) => {
                return Err(ApiError::Conflict(
                    "an account with this email already exists".into(),
                ));
            }
            Err(ClaimError::Store(err)) => return Err(err.into()),
        }
        self.ctx.relay.nudge();
        tracing::info!(user_id = %user.id, "account registered");
        Ok(Registered::of(&user))
    }

    /// Grant or revoke `admin` (administrators only). `user` is always kept.
    #[oai(path = "/:id/roles", method = "put", operation_id = "users.set_roles")]
    async fn set_roles(
        &self,
        auth: BearerAuth,
        id: Path<String>,
        body: JsonBody<RolesIn>,
    ) -> ApiResult<Json<RolesOut>> {
        auth.require(Access::Admin)?;
        let id = UserId::parse(&id.0).map_err(|_| ApiError::NotFound("account"))?;
        let mut roles = vec![Role::User];
        if body.roles.contains(&Role::Admin) {
            roles.push(Role::Admin);
        }
        let user = self
            .ctx
            .store
            .set_roles(id, &roles)
            .await?
            .ok_or(ApiError::NotFound("account"))?;
        tracing::info!(user_id = %user.id, by = %auth.0.sub, ?roles, "roles changed");
        Ok(Json(RolesOut {
            id: user.id.to_string(),
            roles: user.roles,
        }))
    }
}

#[derive(ApiResponse)]
enum Deleted {
    /// The account, its logins and addresses are gone; its saved events and reminders follow.
    #[oai(status = 204)]
    NoContent,
}

#[OpenApi(prefix_path = "/api/v1/users", tag = "Tag::Users")]
impl AccountApi {
    /// Delete the caller's account, confirmed with its password (403 if wrong). Logins end at
    /// once; the other services drop the user's saved events and reminders on `user.deleted`.
    #[oai(path = "/me", method = "delete", operation_id = "users.delete_me")]
    async fn delete_me(&self, auth: BearerAuth, body: JsonBody<PasswordIn>) -> ApiResult<Deleted> {
        let user = current_user(&self.ctx, &auth).await?;
        let confirmed = match bodies::password(body.0.password) {
            Ok(password) => {
                let stored = Some(user.password_hash.clone());
                self.ctx.passwords.verify(password, stored).await?
            }
            Err(_) => false,
        };
        if !confirmed {
            return Err(ApiError::Forbidden("the password is wrong".into()));
        }
        self.ctx.store.delete_account(user.id).await?;
        // This instance refuses the account's tokens at once; the others when they hear of it.
        self.ctx.revoked.revoke(user.id, chrono::Utc::now());
        self.ctx.relay.nudge();
        tracing::info!(user_id = %user.id, "account deleted");
        Ok(Deleted::NoContent)
    }

    /// The caller's profile.
    #[oai(path = "/me", method = "get", operation_id = "users.me")]
    async fn me(&self, auth: BearerAuth) -> ApiResult<Json<ProfileOut>> {
        let user = current_user(&self.ctx, &auth).await?;
        Ok(Json(ProfileOut::from(&user)))
    }

    /// Change the display name, interests (topic slugs, replacing the current ones) and time
    /// zone (reminders set at a wall-clock time follow it).
    #[oai(path = "/me", method = "patch", operation_id = "users.update_me")]
    async fn update_me(
        &self,
        auth: BearerAuth,
        body: JsonBody<ProfilePatch>,
    ) -> ApiResult<Json<ProfileOut>> {
        let mut errors = FieldErrors::default();
        let display_name = errors
            .check(
                "display_name",
                bodies::display_name(body.display_name.as_deref()),
            )
            .flatten();
        // Interests travel in every access token: their number is bounded.
        if body
            .interests
            .as_ref()
            .is_some_and(|raw| raw.len() > MAX_INTERESTS)
        {
            errors.add("interests", format!("at most {MAX_INTERESTS} topics"));
        }
        let interests = body.interests.as_ref().map(|raw| {
            raw.iter()
                .enumerate()
                .filter_map(|(i, t)| errors.check(&format!("interests[{i}]"), Topic::parse(t)))
                .collect::<Vec<_>>()
        });
        let timezone = errors
            .check("timezone", bodies::timezone(body.timezone.as_deref()))
            .flatten();
        errors.result()?;
        let change = ProfileChange {
            display_name,
            interests,
            timezone,
        };
        let id = auth.user_id();
        if let Some(zone) = timezone {
            let before = current_user(&self.ctx, &auth).await?;
            if before.timezone() != zone {
                // Queued before the write, as every message is (see `outbox`).
                let changed = UserTimezoneChangedV1 {
                    user_id: id,
                    timezone: zone,
                    changed_at: Utc::now(),
                };
                let message = outbox::domain(id, messages::USER_TIMEZONE_CHANGED_V1, &changed)?;
                self.ctx.store.enqueue(&[message]).await?;
            }
        }
        let user = self
            .ctx
            .store
            .update_profile(id, &change)
            .await?
            .ok_or(ApiError::NotFound("account"))?;
        self.ctx.relay.nudge();
        Ok(Json(ProfileOut::from(&user)))
    }
}

/// Most interests a profile holds.
pub const MAX_INTERESTS: usize = 20;

/// The account the token speaks for; 404 if it no longer exists.
pub async fn current_user(ctx: &Ctx, auth: &BearerAuth) -> ApiResult<User> {
    ctx.store
        .find(auth.user_id())
        .await?
        .ok_or(ApiError::NotFound("account"))
}
