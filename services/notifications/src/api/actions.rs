//! `/api/v1/notifications/actions/{token}`: what the links in a reminder mail open. No login:
//! the signed token names one reminder and one action (see [`crate::action_links`]). The `GET`
//! shows what would happen and a button; only the button's `POST` acts.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use common::{ApiError, ApiResult, domain::TimeZone};
use minijinja::{Environment, context};
use poem_openapi::{OpenApi, param::Path};

use super::{
    Ctx, Tag,
    page::{LinkPage, LinkResult},
};
use crate::{
    action_links::{Action, ActionLink, LINK_LIFETIME},
    domain::{LocalTime, Status, Transition, tomorrow_at},
    store::ReminderDoc,
};

pub struct ActionsApi {
    pub ctx: Ctx,
}

/// One page for every step: a heading, a line, and maybe a button that posts to `action`.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ heading }} · eventpost</title></head>
<body>
<main>
<h1>{{ heading }}</h1>
{% if event %}<p>{{ event }}</p>{% endif %}
<p>{{ line }}</p>
{% if button %}<form method="post"{% if action %} action="{{ action }}"{% endif %}><button type="submit">{{ button }}</button></form>{% endif %}
</main>
</body>
</html>
"#;

static PAGES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut pages = Environment::new();
    // Named .html, so every value is escaped.
    #[expect(
        clippy::expect_used,
        reason = "a constant template, checked by the tests"
    )]
    pages
        .add_template("action.html", PAGE)
        .expect("the page template parses");
    pages
});

/// When a snoozed reminder goes again from the mail's "tomorrow" link, on the owner's clock.
fn nine_in_the_morning() -> LocalTime {
    #[expect(clippy::expect_used, reason = "a constant time")]
    LocalTime::parse("09:00").expect("09:00 is a time")
}

#[OpenApi(
    prefix_path = "/api/v1/notifications/actions",
    tag = "Tag::Notifications"
)]
impl ActionsApi {
    /// The page a link in a reminder mail opens: what the link would do, and a button to do it
    /// (404 for a link this service did not sign, or one past its 7 days).
    #[oai(
        path = "/:token",
        method = "get",
        operation_id = "notifications.action_page"
    )]
    async fn action_page(
        &self,
        /// The token from the mail's link.
        #[oai(validator(max_length = 200))]
        token: Path<String>,
    ) -> LinkResult {
        LinkResult(self.show(&token.0).await)
    }

    /// Does what a link in a reminder mail offers, as its page's button asks: snooze it an
    /// hour from now, or until 09:00 tomorrow on the owner's clock (a scheduled or sent
    /// reminder; 409 for any other), or cancel it (a scheduled or queued one). Needs no login:
    /// the signed token is the key, for this reminder and action only.
    #[oai(path = "/:token", method = "post", operation_id = "notifications.act")]
    async fn act(
        &self,
        /// The token from the mail's link.
        #[oai(validator(max_length = 200))]
        token: Path<String>,
    ) -> LinkResult {
        LinkResult(self.carry_out(&token.0).await)
    }
}

impl ActionsApi {
    /// What the link `token` would do, and its button.
    async fn show(&self, token: &str) -> ApiResult<LinkPage> {
        let Some((link, reminder)) = self.open(token).await? else {
            return missing();
        };
        let zone = self.ctx.store.zone_of(reminder.user_id).await?;
        let (heading, line, button) = match link.action {
            Action::SnoozeHour => (
                "Remind me again in an hour?",
                "The reminder will be mailed again an hour after you press the button.".to_owned(),
                Some("Remind me in an hour"),
            ),
            Action::SnoozeTomorrow => (
                "Remind me again tomorrow?",
                format!(
                    "The reminder will be mailed again tomorrow at 09:00 ({}).",
                    zone.name()
                ),
                Some("Remind me tomorrow"),
            ),
            Action::Cancel if cancellable(&reminder) => (
                "Cancel this reminder?",
                format!("It is due {}.", local(reminder.send_at.to_chrono(), zone)),
                Some("Cancel the reminder"),
            ),
            Action::Cancel => (
                "Nothing to cancel",
                format!(
                    "This reminder is {}; only one still to go can be cancelled.",
                    reminder.status.as_str()
                ),
                None,
            ),
        };
        render(heading, &reminder, &line, button, None).map(LinkPage::shown)
    }

    /// Does what the link `token` offers.
    async fn carry_out(&self, token: &str) -> ApiResult<LinkPage> {
        let Some((link, reminder)) = self.open(token).await? else {
            return missing();
        };
        let zone = self.ctx.store.zone_of(reminder.user_id).await?;
        let now = Utc::now();
        let send_at = match link.action {
            Action::SnoozeHour => now + chrono::TimeDelta::hours(1),
            Action::SnoozeTomorrow => tomorrow_at(now, nine_in_the_morning(), zone),
            Action::Cancel if cancellable(&reminder) => {
                self.ctx.cancel(reminder.clone()).await?;
                tracing::info!(reminder_id = %reminder.id, "reminder cancelled from its mail");
                let line = "It will not be mailed.";
                return render("Reminder cancelled", &reminder, line, None, None)
                    .map(LinkPage::shown);
            }
            Action::Cancel => return refused(&reminder, "cancelled"),
        };
        if !matches!(reminder.status, Status::Scheduled | Status::Sent) {
            return refused(&reminder, "snoozed");
        }
        let snoozed = self
            .ctx
            .apply(&reminder, Transition::Snooze { send_at })
            .await?;
        tracing::info!(reminder_id = %reminder.id, "reminder snoozed from its mail");
        // The way out of the snooze, on the page that confirms it: a sibling of this page's
        // address, so the form stays on this origin.
        let cancel = self.ctx.links.token(&ActionLink {
            reminder_id: reminder.id,
            action: Action::Cancel,
            expires_at: now + LINK_LIFETIME,
        });
        let line = format!(
            "It will be mailed again {}.",
            local(snoozed.send_at.to_chrono(), zone)
        );
        render(
            "Reminder snoozed",
            &snoozed,
            &line,
            Some("Cancel it instead"),
            Some(&cancel),
        )
        .map(LinkPage::shown)
    }

    /// The link `token` is and the reminder it names, as it stands (its mail's result
    /// recorded); `None` for a link that opens nothing.
    async fn open(&self, token: &str) -> ApiResult<Option<(ActionLink, ReminderDoc)>> {
        let Ok(link) = self.ctx.links.open(token, Utc::now()) else {
            return Ok(None);
        };
        let Some(reminder) = self.ctx.store.reminder(link.reminder_id).await? else {
            return Ok(None);
        };
        Ok(Some((link, self.ctx.results.settle(reminder).await?)))
    }
}

fn cancellable(reminder: &ReminderDoc) -> bool {
    matches!(reminder.status, Status::Scheduled | Status::Queued)
}

/// `at` on the owner's clock, as a person reads it.
fn local(at: DateTime<Utc>, zone: TimeZone) -> String {
    let local = at.with_timezone(&zone.tz());
    format!(
        "on {} ({})",
        local.format("%A %-d %B %Y at %H:%M"),
        zone.name()
    )
}

/// The page of a link that opens nothing.
fn missing() -> ApiResult<LinkPage> {
    page(
        "This link does not work",
        "",
        "It is more than 7 days old, or it was changed on its way, or its reminder is gone.",
        None,
        None,
    )
    .map(LinkPage::missing)
}

/// The page of a link whose reminder can no longer be `done` (snoozed, cancelled).
fn refused(reminder: &ReminderDoc, done: &str) -> ApiResult<LinkPage> {
    let line = format!(
        "This reminder is {}, so it cannot be {done} any more.",
        reminder.status.as_str()
    );
    page("Nothing to do", &reminder.event.title, &line, None, None).map(LinkPage::refused)
}

fn render(
    heading: &str,
    reminder: &ReminderDoc,
    line: &str,
    button: Option<&str>,
    action: Option<&str>,
) -> ApiResult<String> {
    page(heading, &reminder.event.title, line, button, action)
}

fn page(
    heading: &str,
    event: &str,
    line: &str,
    button: Option<&str>,
    action: Option<&str>,
) -> ApiResult<String> {
    PAGES
        .get_template("action.html")
        .and_then(|page| {
            page.render(context! {
                heading,
                event,
                line,
                button,
                action,
            })
        })
        .map_err(|err| ApiError::Internal(err.into()))
}
