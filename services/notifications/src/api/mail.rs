//! What mail I get besides my reminders: change notices (an event I follow moved, changed place
//! or was deleted), on until I turn them off here or with the one-click link every such mail
//! carries (RFC 8058).

use common::{ApiError, ApiResult, auth::BearerAuth, time::Timestamp};
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};

use super::{Ctx, Tag, page::Page};
use crate::store::{MailChoicesDoc, could_be_token};

pub struct MailApi {
    pub ctx: Ctx,
}

/// My choices of mail.
#[derive(Debug, Object)]
pub struct MailChoicesOut {
    /// Whether I am mailed when an event I saved or have a reminder for moves, changes place
    /// or is deleted (once its changes have settled for 10 minutes).
    pub change_notices: bool,
    /// When I last chose.
    pub changed_at: Timestamp,
}

/// What I choose.
#[derive(Debug, serde::Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct MailChoicesIn {
    /// Mail me when an event I follow changes.
    pub change_notices: bool,
}

/// The page a link opens: it asks, and only its button unsubscribes, so a mail scanner that
/// follows links changes nothing. No script, no outside resource.
const CONFIRMATION_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stop mails about changed events · eventpost</title></head>
<body>
<main>
<h1>Stop mails about changed events?</h1>
<p>You get a mail when an event you saved or set a reminder for moves, changes place or is
cancelled. Your reminders keep coming either way.</p>
<form method="post"><button type="submit">Stop these mails</button></form>
</main>
</body>
</html>
"#;

#[derive(ApiResponse)]
enum Unsubscribed {
    /// No more change notices; `PUT /api/v1/notifications/mail` turns them back on.
    #[oai(status = 204)]
    Done,
}

impl From<MailChoicesDoc> for MailChoicesOut {
    fn from(choices: MailChoicesDoc) -> Self {
        Self {
            change_notices: choices.change_notices,
            changed_at: Timestamp(choices.changed_at.to_chrono()),
        }
    }
}

#[OpenApi(prefix_path = "/api/v1/notifications/mail", tag = "Tag::Notifications")]
impl MailApi {
    /// My choices of mail.
    #[oai(
        path = "/",
        method = "get",
        operation_id = "notifications.mail_choices"
    )]
    async fn show(&self, auth: BearerAuth) -> ApiResult<Json<MailChoicesOut>> {
        let choices = self.ctx.store.mail_choices(auth.user_id()).await?;
        Ok(Json(choices.into()))
    }

    /// Choose what mail I get.
    #[oai(path = "/", method = "put", operation_id = "notifications.choose_mail")]
    async fn choose(
        &self,
        auth: BearerAuth,
        body: common::json::JsonBody<MailChoicesIn>,
    ) -> ApiResult<Json<MailChoicesOut>> {
        let choices = self
            .ctx
            .store
            .choose_change_notices(auth.user_id(), body.0.change_notices)
            .await?;
        Ok(Json(choices.into()))
    }

    /// The page an unsubscribe link opens in a browser: it asks before anything changes (404
    /// for a token nobody was sent).
    #[oai(
        path = "/unsubscribe/:token",
        method = "get",
        operation_id = "notifications.unsubscribe_page"
    )]
    async fn unsubscribe_page(
        &self,
        /// The token from the mail's link.
        token: Path<String>,
    ) -> ApiResult<Page> {
        self.choices_of(&token.0).await?;
        Ok(Page::new(CONFIRMATION_PAGE.to_owned()))
    }

    /// One-click unsubscribe from change notices (RFC 8058): the address in a change notice's
    /// `List-Unsubscribe` header, which mail clients `POST` to. Needs no login: the token in the
    /// address is the key, and opens nothing else.
    #[oai(
        path = "/unsubscribe/:token",
        method = "post",
        operation_id = "notifications.unsubscribe"
    )]
    async fn unsubscribe(
        &self,
        /// The token from the mail's link.
        token: Path<String>,
    ) -> ApiResult<Unsubscribed> {
        let choices = self.choices_of(&token.0).await?;
        self.ctx
            .store
            .choose_change_notices(choices.user_id, false)
            .await?;
        tracing::info!(user_id = %choices.user_id, "unsubscribed from change notices");
        Ok(Unsubscribed::Done)
    }
}

impl MailApi {
    /// The choices an unsubscribe link's `token` opens; 404 for one nobody was sent.
    async fn choices_of(&self, token: &str) -> ApiResult<MailChoicesDoc> {
        let unknown = || ApiError::NotFound("unsubscribe link");
        if !could_be_token(token) {
            return Err(unknown());
        }
        self.ctx
            .store
            .mail_choices_by_token(token)
            .await?
            .ok_or_else(unknown)
    }
}
