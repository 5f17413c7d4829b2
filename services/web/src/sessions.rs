//! Visitors' sessions, kept on the server: the browser holds only a random id in an HttpOnly
//! cookie (poem's `ServerSession`), and this app's own database holds what the session knows,
//! the visitor's tokens among them, under the id's SHA-256 digest (a copy of the database
//! opens no session).
//!
//! A signed-in session's access token lives 15 minutes; a page that finds it about to end
//! refreshes it first. Each refresh token works once and a replay ends the login (the users
//! service's reuse detection), so the refreshes a session needs at once (two tabs, a page and
//! its form) share one call: the first page to need it makes it, the others wait for its
//! answer, which is kept for a minute for pages that read the session before it was written.

use std::{
    collections::{BTreeMap, HashMap},
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use common::store::{Deadline, StoreResult};
use mongodb::{
    Collection, Database,
    bson::{self, Document, doc},
};
use poem::session::{Session, SessionStorage};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::api::{Api, ApiFailure, Caller, Tokens};

/// The session entry of a signed-in visitor.
const LOGIN: &str = "login";

/// How long before its end an access token is refreshed.
const REFRESHED_AHEAD: chrono::Duration = chrono::Duration::seconds(30);

/// How long a refresh's answer is kept for the pages that started from the same session.
const REFRESH_KEPT_FOR: Duration = Duration::from_secs(60);

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
    refreshes: Arc<Mutex<HashMap<String, SharedRefresh>>>,
}

/// One refresh that every page holding the same refresh token waits for: the new tokens, or
/// `None` when the login has ended.
#[derive(Clone)]
struct SharedRefresh {
    started: Instant,
    answer: Arc<OnceCell<Option<Tokens>>>,
}

impl Logins {
    pub fn new(api: Api) -> Self {
        Self {
            api,
            refreshes: Arc::default(),
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
            let mut refreshes = self
                .refreshes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            refreshes.retain(|_, refresh| refresh.started.elapsed() < REFRESH_KEPT_FOR);
            refreshes
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
            .get_or_try_init(|| async {
                match self.api.refresh(caller, &login.refresh_token).await {
                    Ok(tokens) => Ok(Some(tokens)),
                    Err(ApiFailure::Problem { .. }) => Ok(None),
                    Err(err) => Err(err),
                }
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

/// Sessions in the web app's database: `sessions`, one document per session, by the digest
/// of its id.
#[derive(Clone)]
pub struct MongoSessions {
    sessions: Collection<Document>,
    deadline: Deadline,
}

impl MongoSessions {
    pub fn new(db: &Database, deadline: Deadline) -> Self {
        Self {
            sessions: db.collection("sessions"),
            deadline,
        }
    }

    /// Removes the sessions past their end; run now and then (a range over the collection).
    pub async fn prune(&self) -> StoreResult<u64> {
        let sessions = self.sessions.clone();
        let filter = doc! { "expires_at": { "$lt": bson::DateTime::now() } };
        self.deadline
            .run("pruning ended sessions", async move {
                sessions
                    .delete_many(filter)
                    .await
                    .map(|result| result.deleted_count)
            })
            .await
    }
}

fn digest(session_id: &str) -> String {
    let digest = Sha256::digest(session_id.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unavailable(err: impl Into<anyhow::Error>) -> poem::Error {
    let err: anyhow::Error = err.into();
    tracing::warn!(error = %err, "the session store failed");
    poem::Error::from_string(
        "sessions are unavailable",
        poem::http::StatusCode::SERVICE_UNAVAILABLE,
    )
}

impl SessionStorage for MongoSessions {
    async fn load_session<'a>(
        &'a self,
        session_id: &'a str,
    ) -> poem::Result<Option<BTreeMap<String, Value>>> {
        let sessions = self.sessions.clone();
        let id = digest(session_id);
        let stored = self
            .deadline
            .run("reading a session", async move {
                sessions.find_one(doc! { "_id": id }).await
            })
            .await
            .map_err(unavailable)?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        let ended = stored
            .get_datetime("expires_at")
            .is_ok_and(|end| *end < bson::DateTime::now());
        if ended {
            return Ok(None);
        }
        let entries = stored.get_document("entries").map_err(unavailable)?.clone();
        let entries: BTreeMap<String, Value> = bson::from_document(entries).map_err(unavailable)?;
        Ok(Some(entries))
    }

    async fn update_session<'a>(
        &'a self,
        session_id: &'a str,
        entries: &'a BTreeMap<String, Value>,
        expires: Option<Duration>,
    ) -> poem::Result<()> {
        let entries = bson::to_document(entries).map_err(unavailable)?;
        let lifetime = expires.unwrap_or(Duration::from_secs(24 * 60 * 60));
        let expires_at = Utc::now() + chrono::Duration::from_std(lifetime).map_err(unavailable)?;
        let id = digest(session_id);
        let document = doc! {
            "_id": &id,
            "entries": entries,
            "expires_at": bson::DateTime::from_chrono(expires_at),
        };
        let sessions = self.sessions.clone();
        self.deadline
            .run("writing a session", async move {
                sessions
                    .replace_one(doc! { "_id": id }, document)
                    .upsert(true)
                    .await
                    .map(drop)
            })
            .await
            .map_err(unavailable)
    }

    async fn remove_session<'a>(&'a self, session_id: &'a str) -> poem::Result<()> {
        let sessions = self.sessions.clone();
        let id = digest(session_id);
        self.deadline
            .run("removing a session", async move {
                sessions.delete_one(doc! { "_id": id }).await.map(drop)
            })
            .await
            .map_err(unavailable)
    }
}
