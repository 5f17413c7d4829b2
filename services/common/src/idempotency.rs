//! Idempotency keys on the routes that create something: a client that got no answer, or a 503
//! ("outcome unknown"), sends the same request again with the same `Idempotency-Key` and gets
//! the first answer, never a second copy of what it created.
//!
//! A key is the caller's (the token's subject, or anyone's on an anonymous route) for one
//! method and path, for [`KEPT_FOR`]. The first request with it reserves the key by a unique
//! insert, and with it the id the created thing will have. A request that ends in a 5xx leaves
//! no answer behind, only that id: the retry runs the handler again with the same id, and the
//! handler answers with what the first attempt created if it did ([`NewId::retried`]), so a
//! write that succeeded behind a timed-out answer is not made twice.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::Utc;
use mongodb::bson::{self, Binary, doc, oid::ObjectId, spec::BinarySubtype};
use mongodb::{Collection, Database};
use poem::{
    Body, Endpoint, IntoResponse, Request, Response,
    http::{HeaderName, HeaderValue, StatusCode, header},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    ApiError,
    auth::JwksVerifier,
    problem::{self, FieldError},
    store::{Deadline, StoreError, StoreResult},
};

/// The request header carrying the key.
pub const HEADER: &str = "Idempotency-Key";

/// The longest key accepted (a UUID is 36).
pub const MAX_KEY_LENGTH: usize = 255;

/// How long a key is remembered.
pub const KEPT_FOR: chrono::Duration = chrono::Duration::hours(24);

/// How long one attempt holds its key: a retry meanwhile is told the first is in progress. Past
/// it (an instance that died mid-request), a retry takes the key over.
pub const HELD_FOR: chrono::Duration = chrono::Duration::seconds(60);

/// How often an instance deletes the keys older than [`KEPT_FOR`].
const PRUNED_EVERY: Duration = Duration::from_secs(3600);

/// The headers of an answer kept for replay, besides its status and body.
const KEPT_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

/// The keys a service remembers, in its own database. Route data for [`idempotent`].
#[derive(Clone)]
pub struct IdempotencyKeys {
    keys: Collection<KeyDoc>,
    deadline: Deadline,
    last_pruned: Arc<Mutex<Option<Instant>>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyDoc {
    /// A digest of the caller, method, path and key.
    #[serde(rename = "_id")]
    id: String,
    /// A digest of the first request's body.
    fingerprint: String,
    /// The id what the request creates gets, whichever attempt creates it.
    reserved_id: ObjectId,
    held_until: bson::DateTime,
    answer: Option<Answer>,
    created_at: bson::DateTime,
}

/// What the first attempt answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Answer {
    status: u16,
    headers: Vec<KeptHeader>,
    body: Binary,
}

/// A header of an answer, as a document: the local store refuses arrays of arrays.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeptHeader {
    name: String,
    value: String,
}

/// The id a create handler gives what it creates: the one reserved with the request's key, or
/// a fresh one. Read it with [`NewId::of`].
#[derive(Debug, Clone, Copy)]
pub struct NewId {
    id: ObjectId,
    retried: bool,
}

impl NewId {
    /// The id for what `req` creates.
    pub fn of(req: &Request) -> Self {
        req.extensions().get::<Self>().copied().unwrap_or(Self {
            id: ObjectId::new(),
            retried: false,
        })
    }

    /// The id, typed.
    pub fn id<T: From<ObjectId>>(self) -> T {
        T::from(self.id)
    }

    /// Whether an earlier attempt with the same key ran and may have created it: the handler
    /// answers with what exists under the id rather than creating it again.
    pub fn retried(self) -> bool {
        self.retried
    }
}

/// What a request with a key does.
enum Begun {
    /// Run the handler with this id, holding the key until `held_until`.
    Run {
        new_id: NewId,
        held_until: bson::DateTime,
    },
    /// Answer what the first attempt answered.
    Replay(Answer),
    /// The key was sent with another body.
    OtherBody,
    /// Another attempt holds the key.
    InProgress,
}

impl IdempotencyKeys {
    /// The keys in `db`'s `idempotency_keys` collection (looked up by `_id` alone).
    pub fn new(db: &Database, deadline: Deadline) -> Self {
        Self {
            keys: db.collection("idempotency_keys"),
            deadline,
            last_pruned: Arc::new(Mutex::new(None)),
        }
    }

    async fn begin(&self, id: String, fingerprint: String) -> StoreResult<Begun> {
        self.prune_now_and_then();
        let now = Utc::now();
        let fresh = KeyDoc {
            id: id.clone(),
            fingerprint,
            reserved_id: ObjectId::new(),
            held_until: at(now + HELD_FOR),
            answer: None,
            created_at: at(now),
        };
        let inserted = self
            .deadline
            .on("reserving an idempotency key", &self.keys, {
                let fresh = fresh.clone();
                |keys| async move { keys.insert_one(fresh).await.map(drop) }
            })
            .await;
        match inserted {
            Ok(()) => return Ok(fresh.run(false)),
            Err(err) if err.is_duplicate() => {}
            Err(err) => {
                // The insert may still be applied once the database answers again; the retry
                // this request's 503 asks for must not then find the key held by nobody.
                self.settle_in_background(fresh.id.clone(), fresh.held_until, release());
                return Err(err);
            }
        }
        let existing = self
            .deadline
            .on("reading an idempotency key", &self.keys, {
                let id = id.clone();
                |keys| async move { keys.find_one(doc! { "_id": id }).await }
            })
            .await?;
        let Some(existing) = existing else {
            // Pruned between the two reads: as if held by whoever inserts it next.
            return Ok(Begun::InProgress);
        };
        if existing.created_at.timestamp_millis() < (now - KEPT_FOR).timestamp_millis() {
            return self.take_over(&existing, fresh, false).await;
        }
        if existing.fingerprint != fresh.fingerprint {
            return Ok(Begun::OtherBody);
        }
        if let Some(answer) = existing.answer {
            return Ok(Begun::Replay(answer));
        }
        if existing.held_until.timestamp_millis() > now.timestamp_millis() {
            return Ok(Begun::InProgress);
        }
        let retry = KeyDoc {
            reserved_id: existing.reserved_id,
            created_at: existing.created_at,
            ..fresh
        };
        self.take_over(&existing, retry, true).await
    }

    /// Replaces `existing` with `next` unless another attempt changed it first.
    async fn take_over(
        &self,
        existing: &KeyDoc,
        next: KeyDoc,
        retried: bool,
    ) -> StoreResult<Begun> {
        let unchanged = doc! { "_id": &existing.id, "held_until": existing.held_until };
        let replaced = self
            .deadline
            .on("taking an idempotency key over", &self.keys, {
                let next = next.clone();
                |keys| async move { keys.replace_one(unchanged, next).await }
            })
            .await?;
        Ok(if replaced.matched_count == 1 {
            next.run(retried)
        } else {
            Begun::InProgress
        })
    }

    /// Keeps `answer` for replay, or, without one (a 5xx), lets the next attempt run at once.
    /// If the database does not take it now, it is tried again in the background.
    async fn finish(
        &self,
        id: String,
        held_until: bson::DateTime,
        answer: Option<Answer>,
    ) -> StoreResult<()> {
        let update = match answer {
            Some(answer) => {
                let answer = bson::to_bson(&answer).map_err(|err| StoreError::Other(err.into()))?;
                doc! { "$set": { "answer": answer } }
            }
            None => release(),
        };
        let outcome = self.settle(&id, held_until, update.clone()).await;
        if outcome.is_err() {
            self.settle_in_background(id, held_until, update);
        }
        outcome.map(drop)
    }

    /// Applies `update` to key `id` as long as the attempt that holds it until `held_until`
    /// does (not to a later attempt's takeover); whether it matched.
    async fn settle(
        &self,
        id: &str,
        held_until: bson::DateTime,
        update: bson::Document,
    ) -> StoreResult<bool> {
        let mine = doc! { "_id": id, "held_until": held_until };
        let updated = self
            .deadline
            .on(
                "settling an idempotency key",
                &self.keys,
                |keys| async move { keys.update_one(mine, update).await },
            )
            .await?;
        Ok(updated.matched_count == 1)
    }

    /// Tries [`Self::settle`] every half second until it matches or the hold has passed anyway
    /// (after which a retry takes the key over by itself).
    fn settle_in_background(&self, id: String, held_until: bson::DateTime, update: bson::Document) {
        let keys = self.clone();
        tokio::spawn(async move {
            let give_up = Instant::now() + HELD_FOR.to_std().unwrap_or_default();
            while Instant::now() < give_up {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if keys
                    .settle(&id, held_until, update.clone())
                    .await
                    .unwrap_or(false)
                {
                    return;
                }
            }
        });
    }

    /// Deletes the keys past [`KEPT_FOR`], at most once per [`PRUNED_EVERY`] on this instance,
    /// in the background: a range over a collection of one day's keys, never in a request's way.
    fn prune_now_and_then(&self) {
        {
            let mut last = self.last_pruned.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|at| at.elapsed() < PRUNED_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        let keys = self.keys.clone();
        let before = at(Utc::now() - KEPT_FOR);
        tokio::spawn(async move {
            if let Err(err) = keys
                .delete_many(doc! { "created_at": { "$lt": before } })
                .await
            {
                tracing::warn!(error = %err, "pruning idempotency keys failed; will retry");
            }
        });
    }
}

/// Ends an attempt's hold on its key, leaving no answer: the next attempt runs at once.
fn release() -> bson::Document {
    doc! { "$set": { "held_until": bson::DateTime::now() } }
}

impl KeyDoc {
    fn run(&self, retried: bool) -> Begun {
        Begun::Run {
            new_id: NewId {
                id: self.reserved_id,
                retried,
            },
            held_until: self.held_until,
        }
    }
}

/// Makes a create route honour `Idempotency-Key` (`#[oai(transform = "idempotent")]`). The
/// route needs [`IdempotencyKeys`] and the `Arc<JwksVerifier>` as data.
pub fn idempotent<E: Endpoint>(inner: E) -> Idempotent<E> {
    Idempotent(inner)
}

/// The endpoint [`idempotent`] makes.
pub struct Idempotent<E>(E);

impl<E: Endpoint> Endpoint for Idempotent<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let Some(raw) = req.headers().get(HEADER) else {
            return Ok(run(&self.0, req).await);
        };
        let key = match parse_key(raw) {
            Ok(key) => key.to_owned(),
            Err(why) => {
                let error = ApiError::InvalidParameters(vec![FieldError::new(HEADER, why)]);
                return Ok(error.into_response());
            }
        };
        let Some(keys) = req.data::<IdempotencyKeys>().cloned() else {
            let missing = anyhow::anyhow!("the route has no IdempotencyKeys");
            return Ok(ApiError::Internal(missing).into_response());
        };
        let Some(caller) = caller(&req).await else {
            // A token that does not verify: the handler refuses it as it would without a key.
            return Ok(run(&self.0, req).await);
        };
        let body = req.take_body().into_bytes().await?;
        let id = digest(&[
            caller.as_bytes(),
            req.method().as_str().as_bytes(),
            req.uri().path().as_bytes(),
            key.as_bytes(),
        ]);
        let began = keys.begin(id.clone(), digest(&[&body])).await;
        let (new_id, held_until) = match began {
            Ok(Begun::Run { new_id, held_until }) => (new_id, held_until),
            Ok(Begun::Replay(answer)) => return Ok(answer.replayed()),
            Ok(Begun::OtherBody) => {
                let reused = "was already used with another body; use a new key for a new request";
                return Ok(ApiError::invalid(HEADER, reused).into_response());
            }
            Ok(Begun::InProgress) => return Ok(in_progress()),
            Err(err) => return Ok(ApiError::from(err).into_response()),
        };
        req.extensions_mut().insert(new_id);
        req.set_body(body);
        let (answer, response) = keep(run(&self.0, req).await).await;
        if let Err(err) = keys.finish(id, held_until, answer).await {
            // The answer still goes out; recording it is tried again in the background.
            tracing::warn!(error = ?err, "recording an idempotency key's answer failed");
        }
        Ok(response)
    }
}

fn parse_key(raw: &HeaderValue) -> Result<&str, String> {
    let key = raw
        .to_str()
        .map_err(|_| "must be visible ASCII characters".to_owned())?;
    if key.is_empty() || key.len() > MAX_KEY_LENGTH {
        return Err(format!("must be 1 to {MAX_KEY_LENGTH} characters long"));
    }
    Ok(key)
}

/// Whose key it is: the token's subject, or anyone's when there is no token. `None` for a token
/// that does not verify.
async fn caller(req: &Request) -> Option<String> {
    let Some(authorization) = req.headers().get(header::AUTHORIZATION) else {
        return Some("anonymous".into());
    };
    let token = authorization.to_str().ok()?.strip_prefix("Bearer ")?;
    let verifier = req.data::<Arc<JwksVerifier>>()?;
    let claims = verifier.verify(token).await.ok()?;
    Some(format!("user {}", claims.sub))
}

async fn run<E: Endpoint>(endpoint: &E, req: Request) -> Response {
    match endpoint.call(req).await {
        Ok(output) => output.into_response(),
        Err(err) => problem::problem_from_poem_error(err),
    }
}

/// The answer to keep for replay (none for a 5xx, whose outcome is unknown), and the response
/// to send now.
async fn keep(response: Response) -> (Option<Answer>, Response) {
    if response.status().is_server_error() {
        return (None, response);
    }
    let (parts, body) = response.into_parts();
    let bytes = match body.into_bytes().await {
        Ok(bytes) => bytes,
        Err(err) => {
            let unread = anyhow::Error::new(err).context("reading the answer to keep");
            return (None, ApiError::Internal(unread).into_response());
        }
    };
    let headers = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = parts.headers.get(name)?.to_str().ok()?;
            Some(KeptHeader {
                name: name.as_str().to_owned(),
                value: value.to_owned(),
            })
        })
        .collect();
    let answer = Answer {
        status: parts.status.as_u16(),
        headers,
        body: Binary {
            subtype: BinarySubtype::Generic,
            bytes: bytes.to_vec(),
        },
    };
    (Some(answer), Response::from_parts(parts, Body::from(bytes)))
}

impl Answer {
    fn replayed(self) -> Response {
        let mut response = Response::builder()
            .status(StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK))
            .header("Idempotent-Replayed", "true");
        for KeptHeader { name, value } in &self.headers {
            response = response.header(name.as_str(), value.as_str());
        }
        response.body(self.body.bytes)
    }
}

fn in_progress() -> Response {
    let mut response = ApiError::Conflict(format!(
        "a request with this {HEADER} is still in progress; retry after it ends"
    ))
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn at(time: chrono::DateTime<Utc>) -> bson::DateTime {
    bson::DateTime::from_millis(time.timestamp_millis())
}

fn digest(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        // Length-prefixed, so no two different lists of parts hash alike.
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Leaves every key in `db` as an attempt that ended in a 5xx leaves it (its reserved id, no
/// answer), held until `held_until`: for tests of a retry after an unknown outcome.
#[cfg(feature = "testing")]
pub async fn forget_answers(
    db: &Database,
    held_until: chrono::DateTime<Utc>,
) -> mongodb::error::Result<()> {
    let keys = db.collection::<KeyDoc>("idempotency_keys");
    let update = doc! { "$unset": { "answer": "" }, "$set": { "held_until": at(held_until) } };
    keys.update_many(doc! {}, update).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_of_differently_split_parts_differ() {
        assert_ne!(digest(&[b"ab", b"c"]), digest(&[b"a", b"bc"]));
        assert_eq!(digest(&[b"a", b"bc"]), digest(&[b"a", b"bc"]));
    }

    #[test]
    fn a_key_is_one_to_255_visible_characters() {
        assert!(parse_key(&HeaderValue::from_static("3f1c-retry")).is_ok());
        assert!(parse_key(&HeaderValue::from_static("")).is_err());
        let long = HeaderValue::from_str(&"k".repeat(256)).unwrap();
        assert!(parse_key(&long).is_err());
    }
}
