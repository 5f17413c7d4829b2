//! Visitors' sessions, kept on the server: the browser holds only a random id in an HttpOnly
//! cookie (poem's `ServerSession`), and this app's own database holds what the session knows,
//! the visitor's tokens among them, under the id's SHA-256 digest (a copy of the database
//! opens no session; see [`store`]).
//!
//! A signed-in session's access token lives 15 minutes; a page that finds it about to end
//! refreshes it first. Each refresh token works once and a replay ends the login (the users
//! service's reuse detection), so the refreshes a session needs at once (two tabs, a page and
//! its form) share one call: within an instance, the first page to need it makes it and the
//! others wait for its answer, kept for a minute for pages that read the session before it
//! was written; across instances, through the database ([`refreshes`]).

mod refreshes;
mod store;

pub use refreshes::Refreshes;
pub use store::MongoSessions;

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Instant,
};

use chrono::{DateTime, Utc};
use poem::session::Session;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::api::{Api, ApiFailure, Caller, Tokens};

/// The session entry of a signed-in visitor.
const LOGIN: &str = "login";

/// How long before its end an access token is refreshed.
const REFRESHED_AHEAD: chrono::Duration = chrono::Duration::seconds(30);

/// A signed-in visitor's tokens.
#[derive(Clone, Serialize, Deserialize)]
pub struct Login {
    pub email: String,
    access_token: String,
    refresh_token: String,
    access_until: DateTime<Utc>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl Login {
    pub fn new(email: String, tokens: Tokens) -> Self {
        Self {
            email,
            access_until: Utc::now() + chrono::Duration::seconds(tokens.expires_in),
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
        }
    }

    /// Calls made in this visitor's name.
    pub fn caller(&self, address: IpAddr) -> Caller<'_> {
        Caller {
            address,
            token: Some(&self.access_token),
        }
    }

    /// Whether the access token says `admin`: only which pages to offer; the API decides
    /// what is allowed.
    pub fn is_admin(&self) -> bool {
        use base64::Engine;
        self.access_token
            .split('.')
            .nth(1)
            .and_then(|payload| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(payload)
                    .ok()
            })
            .and_then(|claims| serde_json::from_slice::<Value>(&claims).ok())
            .and_then(|claims| {
                claims["roles"]
                    .as_array()
                    .map(|roles| roles.iter().any(|role| role == "admin"))
            })
            .unwrap_or(false)
    }
}

/// Reads and writes the signed-in part of sessions, refreshing tokens one at a time.
#[derive(Clone)]
pub struct Logins {
    api: Api,
    /// This instance's refreshes under way, by refresh token.
    refreshing: Arc<Mutex<HashMap<String, SharedRefresh>>>,
    /// Every instance's.
    refreshes: Refreshes,
}

/// One refresh that every page holding the same refresh token waits for: the new tokens, or
/// `None` when the login has ended.
#[derive(Clone)]
struct SharedRefresh {
    started: Instant,
    answer: Arc<OnceCell<Option<Tokens>>>,
}

impl Logins {
    pub fn new(api: Api, refreshes: Refreshes) -> Self {
        Self {
            api,
            refreshing: Arc::default(),
            refreshes,
        }
    }

    /// Signs `session` in as `login`, under a new session id (so that an id planted before
    /// the sign-in opens nothing).
    pub fn sign_in(session: &Session, login: &Login) {
        session.renew();
        session.set(LOGIN, login);
    }

    /// The visitor's login, with an access token good for a while yet; `None` if they are not
    /// signed in, or their login ended (the session then forgets it).
    pub async fn current(&self, session: &Session, address: IpAddr) -> Option<Login> {
        let login: Login = session.get(LOGIN)?;
        if login.access_until - Utc::now() > REFRESHED_AHEAD {
            return Some(login);
        }
        match self.refreshed(&login, address).await {
            Ok(Some(tokens)) => {
                let fresh = Login::new(login.email, tokens);
                session.set(LOGIN, &fresh);
                Some(fresh)
            }
            Ok(None) => {
                session.remove(LOGIN);
                None
            }
            // The API is away: the page goes on as for a visitor, and the session keeps its
            // tokens for the next page.
            Err(err) => {
                tracing::warn!(error = %err, "refreshing a session's tokens failed");
                None
            }
        }
    }

    async fn refreshed(
        &self,
        login: &Login,
        address: IpAddr,
    ) -> Result<Option<Tokens>, ApiFailure> {
        let shared = {
            let mut refreshing = self
                .refreshing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            refreshing.retain(|_, refresh| refresh.started.elapsed() < refreshes::KEPT_FOR);
            refreshing
                .entry(login.refresh_token.clone())
                .or_insert_with(|| SharedRefresh {
                    started: Instant::now(),
                    answer: Arc::default(),
                })
                .clone()
        };
        let caller = Caller {
            address,
            token: None,
        };
        shared
            .answer
            .get_or_try_init(|| {
                self.refreshes
                    .refresh(&self.api, caller, &login.refresh_token)
            })
            .await
            .cloned()
    }

    /// Signs the session out, ending its login at the users service too.
    pub async fn sign_out(&self, session: &Session, address: IpAddr) {
        if let Some(login) = session.get::<Login>(LOGIN) {
            let caller = login.caller(address);
            if let Err(err) = self.api.sign_out(caller, &login.refresh_token).await {
                tracing::warn!(error = %err, "ending a login at the users service failed");
            }
        }
        session.purge();
    }
}

/// The SHA-256 digest of `secret` in hex: what the database holds in place of a session id
/// or a refresh token.
fn digest(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}
