use chrono::Utc;
use common::{
    ApiError, ApiResult,
    auth::{BearerAuth, Role},
    domain::{EmailAddress, Topic},
    json::JsonBody,
    messages::{EmailContent, EmailRequestedV1},
    problem::FieldErrors,
};
use mongodb::bson::{self, oid::ObjectId};
use poem_openapi::{ApiResponse, OpenApi, payload::Json};

use super::{
    Ctx,
    models::{self, ProfileOut, ProfilePatch, RegisterIn, Tag},
};
use crate::{
    outbox,
    store::{Email, RegisterError, User},
};

pub struct UsersApi {
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

#[OpenApi(prefix_path = "/api/v1/users", tag = "Tag::Users")]
impl UsersApi {
    /// Register an account. The address must not belong to another account (case-insensitive);
    /// a welcome email is sent to it.
    #[oai(path = "/", method = "post", operation_id = "users.register")]
    async fn register(&self, body: JsonBody<RegisterIn>) -> ApiResult<Registered> {
        let RegisterIn {
            email,
            password,
            display_name,
        } = body.0;
        let mut errors = FieldErrors::default();
        let email = errors.check("email", EmailAddress::parse(&email));
        let password = errors.check("password", models::password(password));
        let display_name = errors.check(
            "display_name",
            models::display_name(display_name.as_deref()),
        );
        errors.result()?;
        let (Some(email), Some(password), Some(display_name)) = (email, password, display_name)
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
        let user = User {
            id: ObjectId::new(),
            display_name,
            emails: vec![Email {
                address: email,
                verified: false,
                primary: true,
            }],
            interests: Vec::new(),
            roles,
            password_hash: self.ctx.passwords.hash(password).await?,
            created_at: now,
            updated_at: now,
            outbox: vec![outbox::email(&welcome)?],
        };
        match self.ctx.store.register(&user).await {
            Ok(()) => {}
            Err(RegisterError::Taken) => {
                return Err(ApiError::Conflict(
                    "an account with this email already exists".into(),
                ));
            }
            Err(RegisterError::Store(err)) => return Err(err.into()),
        }
        self.ctx.relay.nudge();
        tracing::info!(user_id = %user.id, "account registered");
        Ok(Registered::Created(
            Json(ProfileOut::from(&user)),
            "/api/v1/users/me".into(),
        ))
    }

    /// The caller's profile.
    #[oai(path = "/me", method = "get", operation_id = "users.me")]
    async fn me(&self, auth: BearerAuth) -> ApiResult<Json<ProfileOut>> {
        let user = self.current(&auth).await?;
        Ok(Json(ProfileOut::from(&user)))
    }

    /// Change the display name and interests (topic slugs, replacing the current ones).
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
                models::display_name(body.display_name.as_deref()),
            )
            .flatten();
        let interests = body.interests.as_ref().map(|raw| {
            raw.iter()
                .enumerate()
                .filter_map(|(i, t)| errors.check(&format!("interests[{i}]"), Topic::parse(t)))
                .collect::<Vec<_>>()
        });
        errors.result()?;
        let id = user_id(&auth)?;
        let user = self
            .ctx
            .store
            .update_profile(id, display_name.as_ref(), interests.as_deref())
            .await?
            .ok_or(ApiError::NotFound("account"))?;
        Ok(Json(ProfileOut::from(&user)))
    }
}

impl UsersApi {
    async fn current(&self, auth: &BearerAuth) -> ApiResult<User> {
        self.ctx
            .store
            .find(user_id(auth)?)
            .await?
            .ok_or(ApiError::NotFound("account"))
    }
}

/// The account id a token speaks for.
pub fn user_id(auth: &BearerAuth) -> ApiResult<ObjectId> {
    ObjectId::parse_str(&auth.0.sub)
        .map_err(|_| ApiError::Unauthorized("the token's subject is not an account id".into()))
}
