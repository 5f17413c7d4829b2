//! The pages through the public gateway: discovering, an event's page and its calendar file,
//! registering, saving, signing in and out, and what a form without its CSRF token does.

use reqwest::StatusCode;

use crate::helpers::{Options, PASSWORD, Site};

#[tokio::test]
async fn a_visitor_finds_an_event_by_a_misspelt_word_and_reads_its_page() -> anyhow::Result<()> {
    let site = Site::start(Options::default()).await?;
    let id = site
        .event(
            "Jazz workshop in the park",
            "Bring <your> instrument.",
            "music",
        )
        .await?;
    let browser = site.browser()?;

    let found = browser.get("/?q=worksop").await?;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    assert!(
        found.body.contains("Jazz workshop in the park"),
        "{}",
        found.body
    );
    assert!(found.body.contains(&format!(r#"href="/events/{id}""#)));
    assert!(
        found.body.contains(r#"music <span class="count">1</span>"#),
        "the topic chip with its count: {}",
        found.body
    );
    let nothing = browser.get("/?q=opera").await?;
    assert!(nothing.body.contains("No events found"), "{}", nothing.body);

    let page = browser.get(&format!("/events/{id}")).await?;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<h1>Jazz workshop in the park</h1>"));
    assert!(
        page.body.contains("Bring &lt;your&gt; instrument."),
        "what the API holds is escaped: {}",
        page.body
    );
    assert!(
        page.body.contains(" CET") || page.body.contains(" CEST"),
        "the start on the event's clock: {}",
        page.body
    );
    assert!(page.body.contains("Sign in</a> to save this event"));
    assert!(
        page.body
            .contains(r#"<span id="start-yours" hidden></span>"#),
        "the visitor's clock is the browser's business: {}",
        page.body
    );

    // Its calendar file, linked from its page: the same UID and SEQUENCE as every other.
    let calendar = format!("/events/{id}/calendar.ics");
    assert!(page.body.contains(&format!(r#"href="{calendar}""#)));
    let file = browser.get(&calendar).await?;
    assert_eq!(file.status, StatusCode::OK);
    let header = |name| {
        file.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    };
    assert!(header("content-type").starts_with("text/calendar"));
    assert!(header("content-disposition").starts_with("attachment"));
    assert!(
        file.body.contains(&format!("UID:event-{id}@eventpost")),
        "{}",
        file.body
    );
    assert!(file.body.contains("SEQUENCE:1"), "{}", file.body);
    assert!(
        file.body.contains("SUMMARY:Jazz workshop in the park"),
        "{}",
        file.body
    );
    assert!(file.body.contains("TZID=Europe/Berlin"), "{}", file.body);
    let no_file = browser
        .get("/events/65f1c0ffee0000000000abcd/calendar.ics")
        .await?;
    assert_eq!(no_file.status, StatusCode::NOT_FOUND);

    let missing = browser.get("/events/65f1c0ffee0000000000abcd").await?;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing.body.contains("<h1>Not found</h1>"),
        "{}",
        missing.body
    );
    site.cleanup().await
}

#[tokio::test]
async fn every_page_forbids_inline_scripts_frames_and_caching() -> anyhow::Result<()> {
    let site = Site::start(Options::default()).await?;
    let browser = site.browser()?;
    for path in ["/", "/sign-in", "/register", "/no-such-page"] {
        let page = browser.get(path).await?;
        let header = |name: &str| {
            page.headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let policy = header("content-security-policy");
        assert!(policy.contains("default-src 'none'"), "{path}: {policy}");
        assert!(policy.contains("script-src 'self';"), "{path}: {policy}");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(!policy.contains("unsafe"), "{path}: {policy}");
        assert_eq!(header("cache-control"), "no-store", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
    }
    let style = browser.get("/static/app.css").await?;
    assert_eq!(style.status, StatusCode::OK);
    assert!(style.body.contains(":focus-visible"));
    site.cleanup().await
}

#[tokio::test]
async fn a_new_person_registers_saves_an_event_and_finds_it_among_their_saved_and_more_like_it()
-> anyhow::Result<()> {
    let site = Site::start(Options::default()).await?;
    let id = site.event("Salsa night", "Dance.", "dance").await?;
    site.event("Tango evening", "Dance too.", "dance").await?;
    site.event("Cheese tasting", "Food.", "food").await?;
    let browser = site.browser()?;

    let saved_before = browser.get("/saved").await?;
    assert_eq!(
        saved_before.status,
        StatusCode::SEE_OTHER,
        "{}",
        saved_before.body
    );
    assert_eq!(saved_before.location(), Some("/sign-in?next=%2Fsaved"));

    let form = browser.get("/register").await?;
    let session_cookie = form
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|cookie| cookie.starts_with("eventpost_csrf="))
        .unwrap_or_default()
        .to_owned();
    assert!(session_cookie.contains("HttpOnly"), "{session_cookie}");
    assert!(
        session_cookie.contains("SameSite=Strict"),
        "{session_cookie}"
    );

    let email = browser.register().await?;
    let home = browser.get("/").await?;
    assert!(
        home.body.contains(&format!("({email})")),
        "signed in: {}",
        home.body
    );
    assert!(
        home.body
            .contains("We mailed you a link to verify your address."),
        "{}",
        home.body
    );
    let again = browser.get("/").await?;
    assert!(!again.body.contains("We mailed you"), "a notice shows once");

    let page = browser.get(&format!("/events/{id}")).await?;
    assert!(page.body.contains(">Save</button>"), "{}", page.body);
    assert!(
        page.body.contains(" UTC on your clock (UTC)"),
        "a Berlin event's start on the viewer's clock too: {}",
        page.body
    );
    let csrf = page.csrf()?;
    let saved = browser
        .post(
            &format!("/events/{id}/saved"),
            &[("csrf", &csrf), ("saved", "true")],
        )
        .await?;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let page = browser.get(&format!("/events/{id}")).await?;
    assert!(
        page.body.contains("Saved. Find it under Saved."),
        "{}",
        page.body
    );
    assert!(page.body.contains(">Unsave</button>"));

    let list = browser.get("/saved").await?;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("Salsa night"), "{}", list.body);

    // Recommended: more in the saved event's topic, not what is saved already.
    let recommended = browser.get("/recommended").await?;
    assert_eq!(recommended.status, StatusCode::OK);
    assert!(
        recommended.body.contains("Tango evening"),
        "{}",
        recommended.body
    );
    assert!(!recommended.body.contains("Salsa night"), "saved already");
    assert!(
        !recommended.body.contains("Cheese tasting"),
        "another topic"
    );
    site.cleanup().await
}

#[tokio::test]
async fn a_form_without_its_csrf_token_changes_nothing() -> anyhow::Result<()> {
    let site = Site::start(Options::default()).await?;
    let id = site.event("Poetry slam", "Words.", "poetry").await?;
    let browser = site.browser()?;
    browser.register().await?;

    for csrf in ["", "forged"] {
        let refused = browser
            .post(
                &format!("/events/{id}/saved"),
                &[("csrf", csrf), ("saved", "true")],
            )
            .await?;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{csrf:?}");
        assert!(refused.body.contains("The form has expired"));
    }
    // Another browser's valid token does not pass with this browser's cookie.
    let other = site.browser()?;
    let foreign = other.get("/sign-in").await?.csrf()?;
    let refused = browser
        .post(
            &format!("/events/{id}/saved"),
            &[("csrf", &foreign), ("saved", "true")],
        )
        .await?;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let list = browser.get("/saved").await?;
    assert!(list.body.contains("Nothing saved yet"), "{}", list.body);
    site.cleanup().await
}

#[tokio::test]
async fn signing_in_and_out() -> anyhow::Result<()> {
    let site = Site::start(Options::default()).await?;
    let first = site.browser()?;
    let email = first.register().await?;
    let home = first.get("/").await?;
    let signed_out = first.post("/sign-out", &[("csrf", &home.csrf()?)]).await?;
    assert_eq!(signed_out.status, StatusCode::SEE_OTHER);
    assert_eq!(
        first.get("/saved").await?.status,
        StatusCode::SEE_OTHER,
        "signed out"
    );

    let browser = site.browser()?;
    let form = browser.get("/sign-in?next=/saved").await?;
    let wrong = browser
        .post(
            "/sign-in",
            &[
                ("csrf", &form.csrf()?),
                ("email", &email),
                ("password", "not the password"),
                ("next", "/saved"),
            ],
        )
        .await?;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("The address or the password is wrong."));
    assert!(
        wrong.body.contains(&format!(r#"value="{email}""#)),
        "the address stays"
    );
    assert!(
        !wrong.body.contains("not the password"),
        "a password is never shown"
    );

    let signed_in = browser
        .post(
            "/sign-in",
            &[
                ("csrf", &wrong.csrf()?),
                ("email", &email),
                ("password", PASSWORD),
                ("next", "/saved"),
            ],
        )
        .await?;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_in.location(), Some("/saved"));
    let session = signed_in
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|cookie| cookie.starts_with("eventpost_session="))
        .unwrap_or_default()
        .to_owned();
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert_eq!(browser.get("/saved").await?.status, StatusCode::OK);

    let elsewhere = browser
        .post(
            "/sign-in",
            &[
                ("csrf", &form.csrf()?),
                ("email", &email),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await?;
    assert_eq!(elsewhere.location(), Some("/"), "never to another site");
    site.cleanup().await
}

#[tokio::test]
async fn near_a_city_or_the_visitors_location_finds_only_what_is_close() -> anyhow::Result<()> {
    let site = Site::start(Options::default()).await?;
    site.event_at("Fado by the river", 38.7075, -9.1364).await?;
    site.event_at("Techno in a power plant", 52.5108, 13.4201)
        .await?;
    let browser = site.browser()?;
    for (near, found, not_found) in [
        ("Lisbon", "Fado by the river", "Techno in a power plant"),
        (
            "52.52,13.40",
            "Techno in a power plant",
            "Fado by the river",
        ),
    ] {
        let page = browser.get(&format!("/?near={near}")).await?;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains(found), "{near}: {}", page.body);
        assert!(!page.body.contains(not_found), "{near}");
    }
    let anywhere = browser.get("/").await?;
    assert!(anywhere.body.contains("Fado by the river") && anywhere.body.contains("Techno"));
    assert!(
        anywhere
            .body
            .contains(r#"<script src="/static/site.js" defer></script>"#),
        "the location and zone script, from this origin"
    );
    let script = browser.get("/static/site.js").await?;
    assert!(script.body.contains("geolocation"));
    site.cleanup().await
}
