//! [`MongoSessions`]: poem's session storage over the web app's own database.

use std::{collections::BTreeMap, time::Duration};

use chrono::Utc;
use common::store::{Deadline, StoreResult};
use mongodb::{
    Collection, Database,
    bson::{self, Document, doc},
};
use poem::session::SessionStorage;
use serde_json::Value;

use super::digest;

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
