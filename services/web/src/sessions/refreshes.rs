//! One refresh per refresh token across every instance of the web app. Pages of one session
//! may be served by different instances at once, and a refresh token used twice ends the
//! login (the users service takes the second use for a stolen token). So the instance that
//! refreshes first claims the token in the app's database (`refreshes`, an insert under the
//! token's digest, which a second insert cannot repeat) and writes the answer there; the others
//! wait for that answer, reading the one document by its `_id`. Answers hold tokens, so they
//! are removed a minute later (and by the hourly pruning, if the instance stopped meanwhile).

use std::time::Duration;

use chrono::Utc;
use common::store::{Deadline, StoreError, StoreResult};
use mongodb::{
    Collection, Database,
    bson::{self, doc},
};
use serde::{Deserialize, Serialize};

use super::digest;
use crate::api::{Api, ApiFailure, Caller, Tokens};

/// How long an answer is kept for the pages that started with the token it replaced.
pub const KEPT_FOR: Duration = Duration::from_secs(60);

/// How long a page waits for another instance's refresh before it gives up (the page then
/// goes on as for a visitor, and the session keeps its tokens for the next page).
const WAITED_FOR: Duration = Duration::from_secs(10);

/// How often a waiting page looks for the answer.
const LOOKED_FOR_EVERY: Duration = Duration::from_millis(50);

#[derive(Serialize, Deserialize)]
struct Claim {
    /// The refresh token's digest.
    #[serde(rename = "_id")]
    id: String,
    claimed_at: bson::DateTime,
    answer: Option<Answer>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Answer {
    Refreshed(Tokens),
    /// The users service refused the token: the login is over.
    Ended,
}

/// The refresh claims of every instance.
#[derive(Clone)]
pub struct Refreshes {
    claims: Collection<Claim>,
    deadline: Deadline,
}

impl Refreshes {
    pub fn new(db: &Database, deadline: Deadline) -> Self {
        Self {
            claims: db.collection("refreshes"),
            deadline,
        }
    }

    /// New tokens for `refresh_token`, refreshed by this call or by whichever call, on any
    /// instance, claimed it first; `None` when the login has ended.
    pub async fn refresh(
        &self,
        api: &Api,
        caller: Caller<'_>,
        refresh_token: &str,
    ) -> Result<Option<Tokens>, ApiFailure> {
        let id = digest(refresh_token);
        let waiting_until = tokio::time::Instant::now() + WAITED_FOR;
        loop {
            match self.claim(&id).await {
                Ok(()) => return self.refresh_claimed(api, caller, refresh_token, id).await,
                Err(err) if err.is_duplicate() => {}
                Err(err) => return Err(unavailable(err)),
            }
            // Another call claimed it: wait for its answer, or for the claim to be given up.
            loop {
                if tokio::time::Instant::now() > waiting_until {
                    return Err(ApiFailure::Unavailable(anyhow::anyhow!(
                        "another instance's refresh gave no answer"
                    )));
                }
                tokio::time::sleep(LOOKED_FOR_EVERY).await;
                match self.read(&id).await.map_err(unavailable)? {
                    Some(Claim {
                        answer: Some(Answer::Refreshed(tokens)),
                        ..
                    }) => return Ok(Some(tokens)),
                    Some(Claim {
                        answer: Some(Answer::Ended),
                        ..
                    }) => return Ok(None),
                    Some(_) => {}
                    None => break,
                }
            }
        }
    }

    async fn refresh_claimed(
        &self,
        api: &Api,
        caller: Caller<'_>,
        refresh_token: &str,
        id: String,
    ) -> Result<Option<Tokens>, ApiFailure> {
        let answer = match api.refresh(caller, refresh_token).await {
            Ok(tokens) => Answer::Refreshed(tokens),
            Err(ApiFailure::Problem { .. }) => Answer::Ended,
            Err(err) => {
                // Give the claim up, so that the next page tries again.
                if let Err(forgot) = self.forget(id).await {
                    tracing::warn!(error = %forgot, "giving up a refresh claim failed; it ends with the pruning");
                }
                return Err(err);
            }
        };
        self.answer(&id, &answer).await.map_err(unavailable)?;
        let refreshes = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(KEPT_FOR).await;
            if let Err(err) = refreshes.forget(id).await {
                tracing::warn!(error = %err, "removing a refresh's answer failed; it ends with the pruning");
            }
        });
        Ok(match answer {
            Answer::Refreshed(tokens) => Some(tokens),
            Answer::Ended => None,
        })
    }

    /// Removes the answers older than [`KEPT_FOR`] (a range over a small collection).
    pub async fn prune(&self) -> StoreResult<u64> {
        let claims = self.claims.clone();
        let before = Utc::now() - chrono::Duration::from_std(KEPT_FOR).unwrap_or_default();
        let filter = doc! { "claimed_at": { "$lt": bson::DateTime::from_chrono(before) } };
        self.deadline
            .run("pruning refresh answers", async move {
                claims
                    .delete_many(filter)
                    .await
                    .map(|result| result.deleted_count)
            })
            .await
    }

    async fn claim(&self, id: &str) -> StoreResult<()> {
        let claims = self.claims.clone();
        let claim = Claim {
            id: id.to_owned(),
            claimed_at: bson::DateTime::now(),
            answer: None,
        };
        self.deadline
            .run("claiming a refresh", async move {
                claims.insert_one(claim).await.map(drop)
            })
            .await
    }

    async fn read(&self, id: &str) -> StoreResult<Option<Claim>> {
        let claims = self.claims.clone();
        let filter = doc! { "_id": id };
        self.deadline
            .run("reading a refresh claim", async move {
                claims.find_one(filter).await
            })
            .await
    }

    async fn answer(&self, id: &str, answer: &Answer) -> StoreResult<()> {
        let claims = self.claims.clone();
        let filter = doc! { "_id": id };
        let answer = bson::to_bson(answer).map_err(|err| StoreError::Other(err.into()))?;
        let update = doc! { "$set": { "answer": answer } };
        self.deadline
            .run("answering a refresh", async move {
                claims.update_one(filter, update).await.map(drop)
            })
            .await
    }

    async fn forget(&self, id: String) -> StoreResult<()> {
        let claims = self.claims.clone();
        self.deadline
            .run("removing a refresh claim", async move {
                claims.delete_one(doc! { "_id": id }).await.map(drop)
            })
            .await
    }
}

fn unavailable(err: StoreError) -> ApiFailure {
    ApiFailure::Unavailable(err.into())
}
