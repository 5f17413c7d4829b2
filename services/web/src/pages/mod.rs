//! The pages: each module owns a part of the site, every handler renders a template of
//! `templates/` with what the API answered. A page that needs a signed-in visitor sends the
//! others to the sign-in page and back; every form that changes something carries the CSRF
//! token, and a form without a valid one changes nothing.

mod account;
mod admin;
mod discover;
mod event;
mod from_mail;
mod reminders;
mod saved;
mod settings;
mod time;

use std::{collections::BTreeMap, net::IpAddr, sync::Arc};

use chrono_tz::Tz;
use minijinja::{Environment, Value, context};
use poem::{
    Endpoint, EndpointExt, IntoResponse, Request, Response, Route,
    error::NotFoundError,
    get, handler,
    http::{StatusCode, header},
    post,
    session::Session,
    web::{CsrfToken, CsrfVerifier, Data, Html, Redirect},
};
use serde::Serialize;

use crate::{
    api::{Api, ApiFailure, Caller},
    sessions::{Login, Logins, Refreshes},
};

/// What every page shares.
#[derive(Clone)]
pub struct Pages {
    pub api: Api,
    pub logins: Logins,
    templates: Arc<Environment<'static>>,
}

impl Pages {
    pub fn new(api: Api, refreshes: Refreshes) -> anyhow::Result<Self> {
        let mut templates = Environment::new();
        for (name, source) in TEMPLATES {
            templates.add_template(name, source)?;
        }
        Ok(Self {
            logins: Logins::new(api.clone(), refreshes),
            api,
            templates: Arc::new(templates),
        })
    }
}

/// Every template, named `.html` so that minijinja escapes every value in it.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    (
        "discover.html",
        include_str!("../../templates/discover.html"),
    ),
    (
        "event_list.html",
        include_str!("../../templates/event_list.html"),
    ),
    ("event.html", include_str!("../../templates/event.html")),
    ("saved.html", include_str!("../../templates/saved.html")),
    (
        "recommended.html",
        include_str!("../../templates/recommended.html"),
    ),
    (
        "reminders.html",
        include_str!("../../templates/reminders.html"),
    ),
    (
        "account_form.html",
        include_str!("../../templates/account_form.html"),
    ),
    ("problem.html", include_str!("../../templates/problem.html")),
    ("account.html", include_str!("../../templates/account.html")),
    ("confirm.html", include_str!("../../templates/confirm.html")),
    (
        "event_form.html",
        include_str!("../../templates/event_form.html"),
    ),
];

const STYLE_SHEET: &str = include_str!("../../static/app.css");

const SITE_SCRIPT: &str = include_str!("../../static/site.js");

/// The site's routes; an address that is none of them answers the "not found" page.
pub fn routes(pages: Pages) -> anyhow::Result<impl Endpoint + 'static> {
    let not_found = pages
        .templates
        .get_template("problem.html")?
        .render(context! {
            title => "Not found",
            detail => "There is no page at this address.",
        })?;
    Ok(Route::new()
        .at("/", get(discover::discover))
        .at("/events/new", get(admin::new_form).post(admin::create))
        .at("/events/:id", get(event::event_page))
        .at("/events/:id/calendar.ics", get(event::calendar_file))
        .at(
            "/events/:id/edit",
            get(admin::edit_form).post(admin::replace),
        )
        .at("/events/:id/delete", post(admin::delete))
        .at("/events/:id/saved", post(event::set_saved))
        .at("/events/:id/remind", post(reminders::remind))
        .at("/saved", get(saved::saved))
        .at("/recommended", get(saved::recommended))
        .at("/reminders", get(reminders::reminders))
        .at("/reminders/:id/snooze", post(reminders::snooze))
        .at("/reminders/:id/change", post(reminders::change))
        .at("/reminders/:id/cancel", post(reminders::cancel))
        .at(
            "/sign-in",
            get(account::sign_in_form).post(account::sign_in),
        )
        .at(
            "/register",
            get(account::register_form).post(account::register),
        )
        .at("/sign-out", post(account::sign_out))
        .at(
            "/verify",
            get(from_mail::verify_page).post(from_mail::verify),
        )
        .at(
            "/forgot-password",
            get(from_mail::forgot_form).post(from_mail::forgot),
        )
        .at(
            "/reset-password",
            get(from_mail::reset_form).post(from_mail::reset),
        )
        .at("/account", get(settings::account))
        .at("/account/addresses", post(settings::add_address))
        .at("/account/addresses/primary", post(settings::make_primary))
        .at("/account/addresses/remove", post(settings::remove_address))
        .at("/account/zone", post(settings::set_zone))
        .at("/account/interests", post(settings::set_interests))
        .at("/account/feed", post(settings::renew_feed))
        .at("/account/password", post(settings::change_password))
        .at("/account/delete", post(settings::delete_account))
        .at("/static/app.css", get(style_sheet))
        .at("/static/site.js", get(site_script))
        .data(pages)
        .catch_error(move |_: NotFoundError| {
            let page = Html(not_found.clone())
                .with_status(StatusCode::NOT_FOUND)
                .with_header(header::CACHE_CONTROL, "no-store");
            async move { page }
        }))
}

#[handler]
fn site_script() -> impl IntoResponse {
    SITE_SCRIPT
        .with_content_type("text/javascript; charset=utf-8")
        .with_header(header::CACHE_CONTROL, "public, max-age=3600")
}

#[handler]
fn style_sheet() -> impl IntoResponse {
    STYLE_SHEET
        .with_content_type("text/css; charset=utf-8")
        .with_header(header::CACHE_CONTROL, "public, max-age=3600")
}

/// A field of a form, with what was typed (never a password) and its error.
#[derive(Serialize)]
pub struct Field {
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    required: bool,
    value: String,
    error: Option<String>,
}

impl Field {
    pub fn new(
        name: &'static str,
        label: &'static str,
        kind: &'static str,
        autocomplete: &'static str,
    ) -> Self {
        Self {
            name,
            label,
            kind,
            autocomplete,
            required: true,
            value: String::new(),
            error: None,
        }
    }

    pub fn optional(self) -> Self {
        Self {
            required: false,
            ..self
        }
    }

    pub fn with(mut self, value: &str, errors: &BTreeMap<String, String>) -> Self {
        if self.kind != "password" {
            value.clone_into(&mut self.value);
        }
        self.error = errors.get(self.name).cloned();
        self
    }
}

/// The visitor a page is for: their address, session, login and CSRF token.
pub struct Visitor {
    pages: Pages,
    pub address: IpAddr,
    pub session: Session,
    pub login: Option<Login>,
    csrf: String,
}

/// What the base template shows of a login (never its tokens).
#[derive(Serialize)]
struct SignedIn<'a> {
    email: &'a str,
    admin: bool,
}

/// The session entry holding a line for the next page to show ("Saved.").
const NOTICE: &str = "notice";

impl<'a> poem::FromRequest<'a> for Visitor {
    async fn from_request(req: &'a Request, body: &mut poem::RequestBody) -> poem::Result<Self> {
        let pages = <Data<&Pages>>::from_request(req, body).await?.0.clone();
        let session = <&Session>::from_request(req, body).await?.clone();
        let csrf = <&CsrfToken>::from_request(req, body).await?.0.clone();
        let address = visitor_address(req);
        let login = pages.logins.current(&session, address).await;
        Ok(Self {
            pages,
            address,
            session,
            login,
            csrf,
        })
    }
}

/// The visitor's address: the gateway's `X-Client-Address` (it alone reaches this app, and
/// drops what clients send under that name), else the connection's peer.
fn visitor_address(req: &Request) -> IpAddr {
    req.header(common::client_address::HEADER)
        .and_then(|value| value.parse().ok())
        .or_else(|| req.remote_addr().as_socket_addr().map(|peer| peer.ip()))
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

impl Visitor {
    /// The signed-in visitor's clock: their profile's zone (UTC until they choose one, or
    /// when the profile cannot be read); `None` for a visitor not signed in.
    pub async fn zone(&self) -> Option<Tz> {
        let login = self.login.as_ref()?;
        let zone = self.api().zone(login.caller(self.address)).await.ok();
        Some(zone.and_then(|zone| zone.parse().ok()).unwrap_or(Tz::UTC))
    }

    /// Calls made for the visitor without their login (their address still counts them).
    pub fn anonymous(&self) -> Caller<'static> {
        Caller {
            address: self.address,
            token: None,
        }
    }

    pub fn api(&self) -> &Api {
        &self.pages.api
    }

    pub fn logins(&self) -> &Logins {
        &self.pages.logins
    }

    /// `template` rendered with `values` and what every page shows, answered with `status`.
    pub fn render(&self, status: StatusCode, template: &str, values: Value) -> Response {
        let notice: Option<String> = self.session.get(NOTICE);
        if notice.is_some() {
            self.session.remove(NOTICE);
        }
        let shared = context! {
            login => self.login.as_ref().map(|login| SignedIn {
                email: &login.email,
                admin: login.is_admin(),
            }),
            csrf => &self.csrf,
            notice,
        };
        let rendered = self
            .pages
            .templates
            .get_template(template)
            .and_then(|page| page.render(context! { ..values, ..shared }));
        match rendered {
            Ok(html) => Html(html)
                .with_status(status)
                .with_header(header::CACHE_CONTROL, "no-store")
                .into_response(),
            Err(err) => {
                tracing::error!(error = %err, template, "rendering a page failed");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }

    /// A page that says what went wrong.
    pub fn problem(&self, status: StatusCode, title: &str, detail: &str) -> Response {
        self.render(status, "problem.html", context! { title, detail })
    }

    /// The page for an API call that failed.
    pub fn failed(&self, failure: &ApiFailure) -> Response {
        let status = failure.status();
        let title = match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::TOO_MANY_REQUESTS => "Too many requests",
            StatusCode::SERVICE_UNAVAILABLE => "Unavailable",
            _ => "That did not work",
        };
        self.problem(status, title, &failure.detail())
    }

    /// Sends a visitor who is not signed in to the sign-in page, to come back to `path`.
    pub fn sign_in_first(&self, path: &str) -> Response {
        let next: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
        Redirect::see_other(format!("/sign-in?next={next}")).into_response()
    }

    /// Goes to `path`, showing `notice` there.
    pub fn go_to(&self, path: &str, notice: &str) -> Response {
        self.session.set(NOTICE, notice);
        Redirect::see_other(path).into_response()
    }

    /// The caller for a form that changes something: refused (boxed: it is large) without a
    /// valid CSRF token, and sent to sign in (back to `back_to`) without a login.
    pub fn signed_in_form(
        &self,
        verifier: &CsrfVerifier,
        csrf: &str,
        back_to: &str,
    ) -> Result<Caller<'_>, Box<Response>> {
        if let Some(refused) = self.refuses_form(verifier, csrf) {
            return Err(Box::new(refused));
        }
        match &self.login {
            Some(login) => Ok(login.caller(self.address)),
            None => Err(Box::new(self.sign_in_first(back_to))),
        }
    }

    /// Whether a form's CSRF token is valid; a form without one must change nothing.
    pub fn refuses_form(&self, verifier: &CsrfVerifier, token: &str) -> Option<Response> {
        (!verifier.is_valid(token)).then(|| {
            self.problem(
                StatusCode::FORBIDDEN,
                "The form has expired",
                "Go back, reload the page and send it again.",
            )
        })
    }
}
