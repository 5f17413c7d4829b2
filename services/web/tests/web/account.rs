//! The account page: time zone, addresses, calendar feed, password, and deleting the account.

use reqwest::StatusCode;

use crate::helpers::{Browser, Options, PASSWORD, Page, Site};

/// Posts `form` (with the page's CSRF token) and reads the account page it comes back to.
async fn submit(browser: &Browser, action: &str, form: &[(&str, &str)]) -> anyhow::Result<Page> {
    let csrf = browser.get("/account").await?.csrf()?;
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend_from_slice(form);
    let answer = browser.post(action, &fields).await?;
    anyhow::ensure!(
        answer.status == StatusCode::SEE_OTHER,
        "{action}: {} {}",
        answer.status,
        answer.body
    );
    browser.get(answer.location().unwrap_or("/account")).await
}

#[tokio::test]
async fn a_person_keeps_their_account_from_its_page() -> anyhow::Result<()> {
    let site = Site::start(Options::default()).await?;
    let browser = site.browser()?;
    let email = browser.register().await?;
    site.verify(&email).await?;

    let page = browser.get("/account").await?;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(&format!("<strong>{email}</strong>")));
    assert!(
        page.body.contains("<option selected>UTC</option>"),
        "UTC until chosen"
    );

    let page = submit(&browser, "/account/zone", &[("value", "Europe/Berlin")]).await?;
    assert!(
        page.body.contains("Your clock is Europe/Berlin now."),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<option selected>Europe/Berlin</option>")
    );
    let reminders = browser.get("/reminders").await?;
    assert!(
        reminders.body.contains("(Europe/Berlin)"),
        "the lists use it"
    );
    let page = submit(&browser, "/account/zone", &[("value", "Mars/Olympus")]).await?;
    assert!(page.body.contains("That did not work: "), "{}", page.body);

    let second = format!("second-{email}");
    let page = submit(&browser, "/account/addresses", &[("value", &second)]).await?;
    assert!(
        page.body.contains(&format!("We mailed {second} a link")),
        "{}",
        page.body
    );
    assert!(page.body.contains("not verified yet"));
    let page = submit(&browser, "/account/addresses/remove", &[("value", &second)]).await?;
    assert!(
        !page.body.contains(&format!("<strong>{second}</strong>")),
        "{}",
        page.body
    );

    let page = submit(&browser, "/account/feed", &[]).await?;
    assert!(page.body.contains("webcal://"), "{}", page.body);

    let page = submit(
        &browser,
        "/account/password",
        &[
            ("current_password", "not it"),
            ("new_password", "a new long password"),
        ],
    )
    .await?;
    assert!(
        page.body.contains("That is not your current password."),
        "{}",
        page.body
    );
    let page = submit(
        &browser,
        "/account/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", "a new long password"),
        ],
    )
    .await?;
    assert!(page.body.contains("Password changed."), "{}", page.body);
    assert!(page.body.contains("Sign out"), "still signed in here");

    let page = submit(
        &browser,
        "/account/delete",
        &[("password", "a new long password")],
    )
    .await?;
    assert!(page.body.contains("Sign in"), "{}", page.body);
    let other = site.browser()?;
    let form = other.get("/sign-in").await?;
    let refused = other
        .post(
            "/sign-in",
            &[
                ("csrf", &form.csrf()?),
                ("email", &email),
                ("password", "a new long password"),
            ],
        )
        .await?;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "the account is gone"
    );
    site.cleanup().await
}
