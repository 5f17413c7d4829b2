//! The pages the users service's mails link to, and the one that asks for those mails: verify
//! an address, forgot password, choose a new password. A link's page only shows a button; its
//! `POST` acts, so a mail scanner that follows links changes nothing.

use minijinja::context;
use poem::{
    Response, handler,
    http::StatusCode,
    web::{CsrfVerifier, Form, Query},
};
use serde::Deserialize;

use super::{Field, Visitor};
use crate::api::ApiFailure;

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[handler]
pub async fn verify_page(visitor: Visitor, Query(query): Query<TokenQuery>) -> Response {
    visitor.render(
        StatusCode::OK,
        "confirm.html",
        context! {
            title => "Confirm your address",
            line => "Press the button to confirm that this address is yours.",
            action => "/verify",
            token => query.token,
            button => "Confirm",
        },
    )
}

#[derive(Deserialize)]
pub struct TokenForm {
    csrf: String,
    token: String,
}

#[handler]
pub async fn verify(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Form(form): Form<TokenForm>,
) -> Response {
    if let Some(refused) = visitor.refuses_form(verifier, &form.csrf) {
        return refused;
    }
    match visitor.api().verify_address(visitor.anonymous(), &form.token).await {
        Ok(()) => visitor.problem(
            StatusCode::OK,
            "Address confirmed",
            "Thank you: reminders and notices can go to it now.",
        ),
        Err(failure) if failure.status().is_client_error() => visitor.problem(
            failure.status(),
            "This link does not work",
            "It was used already, or it expired. Add the address again from your account to get a new one.",
        ),
        Err(failure) => visitor.failed(&failure),
    }
}

fn forgot_page(visitor: &Visitor, status: StatusCode, error: Option<String>) -> Response {
    visitor.render(
        status,
        "account_form.html",
        context! {
            title => "Forgot your password?",
            action => "/forgot-password",
            submit => "Mail me a link",
            error,
            fields => [Field::new("email", "Email address", "email", "email")],
        },
    )
}

#[handler]
pub async fn forgot_form(visitor: Visitor) -> Response {
    forgot_page(&visitor, StatusCode::OK, None)
}

#[derive(Deserialize)]
pub struct ForgotForm {
    csrf: String,
    email: String,
}

#[handler]
pub async fn forgot(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Form(form): Form<ForgotForm>,
) -> Response {
    if let Some(refused) = visitor.refuses_form(verifier, &form.csrf) {
        return refused;
    }
    let email = form.email.trim();
    match visitor.api().request_reset(visitor.anonymous(), email).await {
        // The same answer whether or not the address has an account.
        Ok(()) => visitor.problem(
            StatusCode::OK,
            "Check your mail",
            &format!("If {email} belongs to an account, we mailed it a link to choose a new password. It works for an hour."),
        ),
        Err(failure @ ApiFailure::Problem { .. }) => forgot_page(&visitor, failure.status(), Some(failure.detail())),
        Err(failure) => visitor.failed(&failure),
    }
}

fn reset_page(
    visitor: &Visitor,
    status: StatusCode,
    token: String,
    failure: Option<&ApiFailure>,
) -> Response {
    let errors = failure.map(ApiFailure::field_errors).unwrap_or_default();
    visitor.render(
        status,
        "confirm.html",
        context! {
            title => "Choose a new password",
            line => "Every login of the account ends when you do.",
            action => "/reset-password",
            token,
            button => "Save my new password",
            error => errors.get("token").map(|_| "This link was used already, or it expired: ask for a new one.".to_owned()),
            password => Field::new(
                "password",
                "New password (at least 8 characters)",
                "password",
                "new-password",
            )
            .with("", &errors),
        },
    )
}

#[handler]
pub async fn reset_form(visitor: Visitor, Query(query): Query<TokenQuery>) -> Response {
    reset_page(&visitor, StatusCode::OK, query.token, None)
}

#[derive(Deserialize)]
pub struct ResetForm {
    csrf: String,
    token: String,
    password: String,
}

#[handler]
pub async fn reset(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Form(form): Form<ResetForm>,
) -> Response {
    if let Some(refused) = visitor.refuses_form(verifier, &form.csrf) {
        return refused;
    }
    match visitor
        .api()
        .reset_password(visitor.anonymous(), &form.token, &form.password)
        .await
    {
        Ok(()) => visitor.go_to("/sign-in", "Your password is changed: sign in with it."),
        Err(failure @ ApiFailure::Problem { .. }) => {
            reset_page(&visitor, failure.status(), form.token, Some(&failure))
        }
        Err(failure) => visitor.failed(&failure),
    }
}
