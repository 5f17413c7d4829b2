//! The administrators' event forms: field errors next to their fields, a conflicting edit shown
//! with both versions and saved on purpose, deletion; and none of it for anyone else.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Options, Site};

/// The form's fields for an event starting at `starts_at` (the event's clock).
fn fields<'a>(csrf: &'a str, title: &'a str, starts_at: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("title", title),
        ("description", "Bring friends."),
        ("starts_at", starts_at),
        ("ends_at", ""),
        ("timezone", "Europe/Lisbon"),
        ("place_name", "Miradouro"),
        ("place_address", ""),
        ("organizer", "Ana"),
        ("topics", "music, outdoors"),
    ]
}

#[tokio::test]
async fn an_administrator_creates_edits_through_a_conflict_and_deletes_an_event()
-> anyhow::Result<()> {
    let site = Site::start(Options::default()).await?;
    let admin = site.browser()?;
    admin.sign_in(&site.admin_email).await?;
    let next_year = (chrono::Utc::now() + chrono::Duration::days(365))
        .format("%Y-06-01T21:30")
        .to_string();

    let form = admin.get("/events/new").await?;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let csrf = form.csrf()?;
    let refused = admin
        .post(
            "/events/new",
            &fields(&csrf, "Fado by the river", "tomorrow"),
        )
        .await?;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains(
            r#"<span class="field-error" id="starts_at-error">give a date and a time</span>"#
        ),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains(r#"value="Fado by the river""#),
        "what was typed stays"
    );
    let refused = admin
        .post("/events/new", &fields(&csrf, "", &next_year))
        .await?;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains(r#"id="title-error""#),
        "the API's error by its field: {}",
        refused.body
    );

    let created = admin
        .post(
            "/events/new",
            &fields(&csrf, "Fado by the river", &next_year),
        )
        .await?;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let page_path = created.location().unwrap_or_default().to_owned();
    let id = page_path.trim_start_matches("/events/").to_owned();
    let page = admin.get(&page_path).await?;
    assert!(page.body.contains("Event created."), "{}", page.body);
    assert!(
        page.body.contains("21:30 WEST"),
        "on the event's clock: {}",
        page.body
    );

    // Opened for editing; meanwhile another administrator renames it.
    let edit = admin.get(&format!("/events/{id}/edit")).await?;
    assert!(
        edit.body.contains(r#"name="version" value="1""#),
        "{}",
        edit.body
    );
    let mut theirs: serde_json::Value =
        reqwest::get(site.url.join(&format!("api/v1/events/{id}"))?)
            .await?
            .json()
            .await?;
    theirs["title"] = json!("Fado night (moved indoors)");
    for field in ["id", "created_at", "updated_at", "version", "distance_km"] {
        theirs.as_object_mut().map(|event| event.remove(field));
    }
    let renamed = reqwest::Client::new()
        .put(site.url.join(&format!("api/v1/events/{id}"))?)
        .bearer_auth(&site.admin_token)
        .header("if-match", "\"1\"")
        .json(&theirs)
        .send()
        .await?;
    assert_eq!(
        renamed.status(),
        StatusCode::OK,
        "{}",
        renamed.text().await?
    );

    let edit_csrf = edit.csrf()?;
    let mut mine = fields(&edit_csrf, "Fado by the river, with guitars", &next_year);
    mine.push(("version", "1"));
    let conflict = admin.post(&format!("/events/{id}/edit"), &mine).await?;
    assert_eq!(conflict.status, StatusCode::CONFLICT, "{}", conflict.body);
    assert!(
        conflict.body.contains("Someone changed this event"),
        "{}",
        conflict.body
    );
    assert!(
        conflict.body.contains("Fado night (moved indoors)"),
        "theirs is shown"
    );
    assert!(
        conflict
            .body
            .contains(r#"value="Fado by the river, with guitars""#),
        "mine is kept"
    );
    assert!(
        conflict.body.contains(r#"name="version" value="2""#),
        "{}",
        conflict.body
    );

    let conflict_csrf = conflict.csrf()?;
    let mut again = fields(
        &conflict_csrf,
        "Fado by the river, with guitars",
        &next_year,
    );
    again.push(("version", "2"));
    let saved = admin.post(&format!("/events/{id}/edit"), &again).await?;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let page = admin.get(&page_path).await?;
    assert!(
        page.body
            .contains("<h1>Fado by the river, with guitars</h1>"),
        "{}",
        page.body
    );

    let person = site.browser()?;
    person.register().await?;
    let forbidden = person.get("/events/new").await?;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert!(
        !person
            .get(&page_path)
            .await?
            .body
            .contains("Edit the event")
    );

    let deleted = admin
        .post(&format!("/events/{id}/delete"), &[("csrf", &page.csrf()?)])
        .await?;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    assert_eq!(admin.get(&page_path).await?.status, StatusCode::NOT_FOUND);
    site.cleanup().await
}
