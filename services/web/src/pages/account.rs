//! Signing in, registering and signing out.

use std::collections::BTreeMap;

use minijinja::context;
use poem::{
    IntoResponse, Response, handler,
    http::StatusCode,
    web::{CsrfVerifier, Form, Query, Redirect},
};
use serde::{Deserialize, Serialize};

use super::{Field, Visitor};
use crate::{
    api::ApiFailure,
    sessions::{Login, Logins},
};

#[derive(Serialize)]
struct OtherPage {
    text: &'static str,
    link: &'static str,
    href: &'static str,
}

/// Where to go after signing in: a path of this site only, never another origin. Browsers
/// drop tabs and line breaks from addresses and read `\` as `/`, so `/\t/evil.example` or
/// `/\\evil.example` would leave the site: anything but a plain path is refused.
fn next_page(next: Option<&str>) -> Option<String> {
    next.filter(|next| {
        next.starts_with('/')
            && !next.starts_with("//")
            && !next
                .chars()
                .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
    })
    .map(str::to_owned)
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    email: String,
    password: String,
    next: Option<String>,
}

fn sign_in_page(
    visitor: &Visitor,
    status: StatusCode,
    email: &str,
    next: Option<String>,
    error: Option<String>,
) -> Response {
    let errors = BTreeMap::new();
    visitor.render(
        status,
        "account_form.html",
        context! {
            title => "Sign in",
            action => "/sign-in",
            submit => "Sign in",
            next,
            error,
            fields => [
                Field::new("email", "Email address", "email", "email").with(email, &errors),
                Field::new("password", "Password", "password", "current-password"),
            ],
            other => OtherPage { text: "New here?", link: "Create an account", href: "/register" },
            forgot => true,
        },
    )
}

#[handler]
pub async fn sign_in_form(visitor: Visitor, Query(query): Query<NextQuery>) -> Response {
    sign_in_page(
        &visitor,
        StatusCode::OK,
        "",
        next_page(query.next.as_deref()),
        None,
    )
}

#[handler]
pub async fn sign_in(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Form(form): Form<SignInForm>,
) -> Response {
    if let Some(refused) = visitor.refuses_form(verifier, &form.csrf) {
        return refused;
    }
    let next = next_page(form.next.as_deref());
    let caller = visitor.anonymous();
    match visitor
        .api()
        .sign_in(caller, form.email.trim(), &form.password)
        .await
    {
        Ok(tokens) => {
            Logins::sign_in(
                &visitor.session,
                &Login::new(form.email.trim().to_owned(), tokens),
            );
            Redirect::see_other(next.unwrap_or_else(|| "/".into())).into_response()
        }
        Err(failure @ ApiFailure::Problem { .. }) => {
            let error = match failure.status() {
                StatusCode::UNAUTHORIZED => "The address or the password is wrong.".to_owned(),
                _ => failure.detail(),
            };
            sign_in_page(&visitor, failure.status(), &form.email, next, Some(error))
        }
        Err(failure) => visitor.failed(&failure),
    }
}

#[derive(Deserialize)]
pub struct RegisterForm {
    csrf: String,
    email: String,
    password: String,
    #[serde(default)]
    display_name: String,
}

fn register_page(
    visitor: &Visitor,
    status: StatusCode,
    form: Option<&RegisterForm>,
    failure: Option<&ApiFailure>,
) -> Response {
    let errors = failure.map(ApiFailure::field_errors).unwrap_or_default();
    let error = failure.map(ApiFailure::detail);
    let (email, display_name) = form.map_or(("", ""), |form| {
        (form.email.as_str(), form.display_name.as_str())
    });
    visitor.render(
        status,
        "account_form.html",
        context! {
            title => "Create an account",
            action => "/register",
            submit => "Create my account",
            error,
            fields => [
                Field::new("email", "Email address", "email", "email").with(email, &errors),
                Field::new("password", "Password (at least 8 characters)", "password", "new-password")
                    .with("", &errors),
                Field::new("display_name", "Your name (optional)", "text", "name")
                    .optional()
                    .with(display_name, &errors),
            ],
            other => OtherPage { text: "Have an account?", link: "Sign in", href: "/sign-in" },
        },
    )
}

#[handler]
pub async fn register_form(visitor: Visitor) -> Response {
    register_page(&visitor, StatusCode::OK, None, None)
}

#[handler]
pub async fn register(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Form(form): Form<RegisterForm>,
) -> Response {
    if let Some(refused) = visitor.refuses_form(verifier, &form.csrf) {
        return refused;
    }
    let caller = visitor.anonymous();
    let email = form.email.trim();
    let registered = visitor
        .api()
        .register(caller, email, &form.password, &form.display_name)
        .await;
    if let Err(failure) = registered {
        return match failure {
            ApiFailure::Problem { status, .. } => {
                register_page(&visitor, status, Some(&form), Some(&failure))
            }
            ApiFailure::Unavailable(_) => visitor.failed(&failure),
        };
    }
    match visitor.api().sign_in(caller, email, &form.password).await {
        Ok(tokens) => {
            Logins::sign_in(&visitor.session, &Login::new(email.to_owned(), tokens));
            visitor.go_to(
                "/",
                "Welcome to eventpost. We mailed you a link to verify your address.",
            )
        }
        Err(failure) => visitor.failed(&failure),
    }
}

#[derive(Deserialize)]
pub struct SignOutForm {
    csrf: String,
}

#[handler]
pub async fn sign_out(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Form(form): Form<SignOutForm>,
) -> Response {
    if let Some(refused) = visitor.refuses_form(verifier, &form.csrf) {
        return refused;
    }
    visitor
        .logins()
        .sign_out(&visitor.session, visitor.address)
        .await;
    Redirect::see_other("/").into_response()
}

#[cfg(test)]
mod tests {
    use super::next_page;

    #[test]
    fn only_a_plain_path_of_this_site_is_a_next_page() {
        assert_eq!(next_page(Some("/saved")), Some("/saved".to_owned()));
        assert_eq!(
            next_page(Some("/events/1?x=2")),
            Some("/events/1?x=2".to_owned())
        );
        for elsewhere in [
            "//evil.example/",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "https://evil.example/",
            "saved",
            "/ /x",
        ] {
            assert_eq!(next_page(Some(elsewhere)), None, "{elsewhere:?}");
        }
        assert_eq!(next_page(None), None);
    }
}
