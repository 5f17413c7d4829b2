//! The account page (`/account`): addresses (add, make primary, remove), time zone, interests,
//! password, calendar feed, and deleting the account. Each form does one thing through the API
//! and comes back to the page saying what happened.

use chrono_tz::TZ_VARIANTS;
use minijinja::context;
use poem::{
    IntoResponse, Response, handler,
    http::StatusCode,
    web::{CsrfVerifier, Form, Redirect},
};
use serde::Deserialize;
use serde_json::json;

use super::Visitor;
use crate::{
    api::{ApiFailure, Caller},
    sessions::{Login, Logins},
};

const PAGE: &str = "/account";

#[handler]
pub async fn account(visitor: Visitor) -> Response {
    let Some(login) = &visitor.login else {
        return visitor.sign_in_first(PAGE);
    };
    let caller = login.caller(visitor.address);
    let (profile, feed) = futures::join!(visitor.api().profile(caller), visitor.api().feed(caller));
    let profile = match profile {
        Ok(profile) => profile,
        Err(failure) => return visitor.failed(&failure),
    };
    // Without the notifications service the page still serves what it can.
    let feed = feed.ok().flatten();
    let zones: Vec<&str> = TZ_VARIANTS.iter().map(|zone| zone.name()).collect();
    visitor.render(
        StatusCode::OK,
        "account.html",
        context! {
            title => "My account",
            profile => context! {
                email => profile.email,
                emails => profile.emails,
                timezone => profile.timezone,
                interests => profile.interests.join(", "),
            },
            feed,
            zones,
        },
    )
}

/// Every form carries its CSRF token; most one value.
#[derive(Deserialize)]
pub struct OneValue {
    csrf: String,
    #[serde(default)]
    value: String,
}

/// Runs `act` for a signed-in visitor whose form is valid, and comes back to the page with
/// `done` or what went wrong.
async fn act<'v, F, Fut>(
    visitor: &'v Visitor,
    verifier: &CsrfVerifier,
    csrf: &str,
    done: &str,
    act: F,
) -> Response
where
    F: FnOnce(Caller<'v>) -> Fut,
    Fut: Future<Output = Result<(), ApiFailure>>,
{
    let caller = match visitor.signed_in_form(verifier, csrf, PAGE) {
        Ok(caller) => caller,
        Err(refused) => return *refused,
    };
    match act(caller).await {
        Ok(()) => visitor.go_to(PAGE, done),
        Err(failure) if failure.status().is_client_error() => {
            let why = failure.reason();
            visitor.go_to(PAGE, &format!("That did not work: {why}"))
        }
        Err(failure) => visitor.failed(&failure),
    }
}

#[handler]
pub async fn add_address(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Form(form): Form<OneValue>,
) -> Response {
    let email = form.value.trim().to_owned();
    let done = format!("We mailed {email} a link to verify it.");
    let api = visitor.api().clone();
    act(&visitor, verifier, &form.csrf, &done, |caller| async move {
        api.add_address(caller, &email).await
    })
    .await
}

#[handler]
pub async fn make_primary(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Form(form): Form<OneValue>,
) -> Response {
    let done = format!("{} is your primary address now.", form.value);
    let api = visitor.api().clone();
    act(&visitor, verifier, &form.csrf, &done, |caller| async move {
        api.make_primary(caller, &form.value).await
    })
    .await
}

#[handler]
pub async fn remove_address(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Form(form): Form<OneValue>,
) -> Response {
    let done = format!(
        "{} is removed; its reminders go to your primary address.",
        form.value
    );
    let api = visitor.api().clone();
    act(&visitor, verifier, &form.csrf, &done, |caller| async move {
        api.remove_address(caller, &form.value).await
    })
    .await
}

#[handler]
pub async fn set_zone(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Form(form): Form<OneValue>,
) -> Response {
    let done = format!("Your clock is {} now.", form.value);
    let api = visitor.api().clone();
    act(&visitor, verifier, &form.csrf, &done, |caller| async move {
        api.update_profile(caller, &json!({ "timezone": form.value }))
            .await
    })
    .await
}

#[handler]
pub async fn set_interests(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Form(form): Form<OneValue>,
) -> Response {
    let interests: Vec<String> = form
        .value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|topic| !topic.is_empty())
        .map(str::to_lowercase)
        .collect();
    let api = visitor.api().clone();
    act(
        &visitor,
        verifier,
        &form.csrf,
        "Your interests are saved.",
        |caller| async move {
            api.update_profile(caller, &json!({ "interests": interests }))
                .await
        },
    )
    .await
}

#[handler]
pub async fn renew_feed(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Form(form): Form<OneValue>,
) -> Response {
    let api = visitor.api().clone();
    act(
        &visitor,
        verifier,
        &form.csrf,
        "Your calendar feed has a new address; the old one no longer works.",
        |caller| async move { api.renew_feed(caller).await.map(drop) },
    )
    .await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    current_password: String,
    new_password: String,
}

#[handler]
pub async fn change_password(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Form(form): Form<PasswordForm>,
) -> Response {
    let caller = match visitor.signed_in_form(verifier, &form.csrf, PAGE) {
        Ok(caller) => caller,
        Err(refused) => return *refused,
    };
    let changed = visitor
        .api()
        .change_password(caller, &form.current_password, &form.new_password)
        .await;
    match changed {
        Ok(tokens) => {
            // Every other login ended; this one goes on with the tokens answered.
            let email = visitor
                .login
                .as_ref()
                .map(|login| login.email.clone())
                .unwrap_or_default();
            Logins::sign_in(&visitor.session, &Login::new(email, tokens));
            visitor.go_to(
                PAGE,
                "Password changed. You are signed out everywhere else.",
            )
        }
        Err(failure) if failure.status() == StatusCode::FORBIDDEN => {
            visitor.go_to(PAGE, "That is not your current password.")
        }
        Err(failure) if failure.status().is_client_error() => {
            let why = failure.reason();
            visitor.go_to(PAGE, &format!("Password not changed: {why}"))
        }
        Err(failure) => visitor.failed(&failure),
    }
}

#[derive(Deserialize)]
pub struct DeleteForm {
    csrf: String,
    password: String,
}

#[handler]
pub async fn delete_account(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Form(form): Form<DeleteForm>,
) -> Response {
    let caller = match visitor.signed_in_form(verifier, &form.csrf, PAGE) {
        Ok(caller) => caller,
        Err(refused) => return *refused,
    };
    match visitor.api().delete_account(caller, &form.password).await {
        Ok(()) => {
            visitor.session.purge();
            Redirect::see_other("/").into_response()
        }
        Err(failure) if failure.status() == StatusCode::FORBIDDEN => {
            visitor.go_to(PAGE, "That is not your password; the account stays.")
        }
        Err(failure) => visitor.failed(&failure),
    }
}
