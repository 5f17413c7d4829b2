//! Reminders from the pages: set from an event's page with a preset or a chosen moment, listed
//! on the visitor's clock, changed, snoozed and cancelled.

use chrono::Timelike;
use reqwest::StatusCode;

use crate::helpers::{Options, Site};

#[tokio::test]
async fn a_visitor_sets_reminders_from_an_event_and_manages_them() -> anyhow::Result<()> {
    let site = Site::start(Options::default()).await?;
    let id = site.event("Board game night", "Play.", "games").await?;
    let browser = site.browser()?;
    let email = browser.register().await?;
    site.verify(&email).await?;
    let event = format!("/events/{id}");
    let remind = format!("/events/{id}/remind");

    let page = browser.get(&event).await?;
    assert!(page.body.contains("1 day before"), "{}", page.body);
    let set = browser
        .post(&remind, &[("csrf", &page.csrf()?), ("preset", "day")])
        .await?;
    assert_eq!(set.status, StatusCode::SEE_OTHER, "{}", set.body);
    assert_eq!(set.location(), Some(event.as_str()));
    let page = browser.get(&event).await?;
    assert!(
        page.body.contains("We will remind you on "),
        "{}",
        page.body
    );

    let past = browser
        .post(
            &remind,
            &[
                ("csrf", &page.csrf()?),
                ("preset", "moment"),
                ("moment", "2001-01-01T09:00"),
            ],
        )
        .await?;
    assert_eq!(past.status, StatusCode::SEE_OTHER);
    let page = browser.get(&event).await?;
    assert!(page.body.contains("No reminder set: "), "{}", page.body);

    let list = browser.get("/reminders").await?;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        list.body.matches("<article>").count(),
        1,
        "one reminder set: {}",
        list.body
    );
    assert!(list.body.contains("Reminder: Board game night</a>"));
    assert!(list.body.contains(">scheduled</span>"), "{}", list.body);
    assert!(list.body.contains(&format!("to {email}")));

    let reminder_id = {
        let marker = "action=\"/reminders/";
        let start = list
            .body
            .find(marker)
            .ok_or_else(|| anyhow::anyhow!("an action form"))?
            + marker.len();
        let end = list.body[start..]
            .find('/')
            .ok_or_else(|| anyhow::anyhow!("an id"))?;
        list.body[start..start + end].to_owned()
    };
    // Changed to a moment on the visitor's clock (UTC, the new account's).
    let change = format!("/reminders/{reminder_id}/change");
    let moment = (chrono::Utc::now() + chrono::Duration::days(2))
        .with_nanosecond(0)
        .ok_or_else(|| anyhow::anyhow!("a whole second"))?;
    let local = moment.format("%Y-%m-%dT%H:%M:%S").to_string();
    for (to, notice) in [
        ("2001-01-01T09:00", "Not changed: "),
        ("soon", "Not changed: choose a date and a time."),
        (local.as_str(), "Changed: it goes on "),
    ] {
        let list = browser.get("/reminders").await?;
        let changed = browser
            .post(&change, &[("csrf", &list.csrf()?), ("moment", to)])
            .await?;
        assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
        let list = browser.get("/reminders").await?;
        assert!(list.body.contains(notice), "{to}: {}", list.body);
    }
    let list = browser.get("/reminders").await?;
    assert!(
        list.body
            .contains(&format!(r#"datetime="{}""#, moment.to_rfc3339())),
        "the new time: {}",
        list.body
    );
    assert!(
        list.body.contains(&format!(r#"value="{local}""#)),
        "the form shows it: {}",
        list.body
    );

    let cancelled = browser
        .post(
            &format!("/reminders/{reminder_id}/cancel"),
            &[("csrf", &list.csrf()?)],
        )
        .await?;
    assert_eq!(
        cancelled.status,
        StatusCode::SEE_OTHER,
        "{}",
        cancelled.body
    );
    let list = browser.get("/reminders").await?;
    assert!(list.body.contains("Reminder cancelled."), "{}", list.body);
    assert!(list.body.contains(">cancelled</span>"), "{}", list.body);
    assert!(
        !list
            .body
            .contains(&format!("/reminders/{reminder_id}/cancel")),
        "a cancelled reminder offers no cancel"
    );
    site.cleanup().await
}
