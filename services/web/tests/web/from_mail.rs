//! The pages the mails link to: verifying an address, and a forgotten password. A link's page
//! changes nothing until its button is pressed.

use reqwest::StatusCode;

use crate::helpers::{Browser, Options, PASSWORD, PUBLIC_URL, Site};

/// The mailed `link` on this site: its path and query.
fn on_site(link: &str) -> anyhow::Result<String> {
    let path = link
        .strip_prefix(PUBLIC_URL.trim_end_matches('/'))
        .ok_or_else(|| anyhow::anyhow!("{link} is not under {PUBLIC_URL}"))?;
    Ok(path.to_owned())
}

/// Presses the one button of the page at `path`.
async fn press(
    browser: &Browser,
    path: &str,
    extra: &[(&str, &str)],
) -> anyhow::Result<crate::helpers::Page> {
    let page = browser.get(path).await?;
    let token = path.split("token=").nth(1).unwrap_or_default();
    let token: String = url::form_urlencoded::parse(format!("t={token}").as_bytes())
        .map(|(_, value)| value.into_owned())
        .next()
        .unwrap_or_default();
    let action = path.split('?').next().unwrap_or(path);
    let csrf = page.csrf()?;
    let mut form = vec![("csrf", csrf.as_str()), ("token", token.as_str())];
    form.extend_from_slice(extra);
    browser.post(action, &form).await
}

#[tokio::test]
async fn an_address_is_verified_from_the_mailed_link_by_its_button_alone() -> anyhow::Result<()> {
    let site = Site::start(Options::default()).await?;
    let browser = site.browser()?;
    let email = browser.register().await?;
    let link = site.mailed_link(&email, false).await?;
    assert!(
        link.starts_with("https://eventpost.example/verify?token="),
        "{link}"
    );
    let path = on_site(&link)?;

    let page = browser.get(&path).await?;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(">Confirm</button>"), "{}", page.body);
    let account = browser.get("/account").await?;
    assert!(
        account.body.contains("not verified yet"),
        "opening the link verified nothing"
    );

    let done = press(&browser, &path, &[]).await?;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("Address confirmed"), "{}", done.body);
    let account = browser.get("/account").await?;
    assert!(
        !account.body.contains("not verified yet"),
        "{}",
        account.body
    );

    let again = press(&browser, &path, &[]).await?;
    assert!(
        again.body.contains("This link does not work"),
        "{}",
        again.body
    );
    site.cleanup().await
}

#[tokio::test]
async fn a_forgotten_password_is_replaced_from_the_mailed_link() -> anyhow::Result<()> {
    let site = Site::start(Options::default()).await?;
    let email = site.account().await?;
    let browser = site.browser()?;

    for address in [email.as_str(), "nobody-here@example.com"] {
        let form = browser.get("/forgot-password").await?;
        let asked = browser
            .post(
                "/forgot-password",
                &[("csrf", &form.csrf()?), ("email", address)],
            )
            .await?;
        assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
        assert!(
            asked.body.contains(&format!(
                "If {address} belongs to an account, we mailed it a link"
            )),
            "the same answer either way: {}",
            asked.body
        );
    }
    let link = site.mailed_link(&email, true).await?;
    let path = on_site(&link)?;
    assert!(path.starts_with("/reset-password?token="), "{path}");

    let changed = press(&browser, &path, &[("password", "a brand new password")]).await?;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
    assert_eq!(changed.location(), Some("/sign-in"));
    let sign_in = browser.get("/sign-in").await?;
    assert!(
        sign_in.body.contains("Your password is changed"),
        "{}",
        sign_in.body
    );
    for (password, status) in [
        (PASSWORD, StatusCode::UNAUTHORIZED),
        ("a brand new password", StatusCode::SEE_OTHER),
    ] {
        let form = browser.get("/sign-in").await?;
        let answer = browser
            .post(
                "/sign-in",
                &[
                    ("csrf", &form.csrf()?),
                    ("email", &email),
                    ("password", password),
                ],
            )
            .await?;
        assert_eq!(answer.status, status, "{password}");
    }

    let again = press(
        &site.browser()?,
        &path,
        &[("password", "yet another password")],
    )
    .await?;
    assert!(
        again.body.contains("This link was used already"),
        "{}",
        again.body
    );
    site.cleanup().await
}
