//! Reminders from the pages: set from an event's page with a preset or a chosen moment, listed
//! on the visitor's clock, snoozed and cancelled.

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
