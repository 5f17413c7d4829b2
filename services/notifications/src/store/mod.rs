//! The only code that touches the `notifications` database.
//!
//! FerretDB 1.x has no transactions and its updates are read-modify-write, so the one guarantee
//! that must hold under concurrency, "each reminder is handed to the email queue by one
//! scheduler per attempt", rests on an insert guarded by a unique `_id`: a claim document
//! `<reminder id>:<attempt>` in `claims`. The claim's winner alone then updates the reminder.

mod change_notices;
mod claims;
mod feeds;
mod follows;
mod recipients;
mod reminders;
mod results;
mod saves;
mod transitions;
mod window;

use common::{
    mongo,
    store::{Deadline, StoreResult},
};
use mongodb::{
    Collection, Database,
    bson::{self, doc},
};
use serde::Serialize;

pub use change_notices::ChangeNoticeDoc;
pub use claims::{Claim, ClaimOutcome};
pub use feeds::{FeedDoc, could_be_token};
pub use follows::{WallClockDoc, follows_fields, stored};
pub use recipients::{AddressDoc, MailChoicesDoc, ZoneDoc};
pub use reminders::{DUE_SHARDS, ListCursor, ListFilter, ReminderDoc, due_fields, due_shard};
pub use results::{JournalledResult, MailResult, Outcome};
pub use saves::{SaveDoc, SavesOf};

/// The notifications database.
#[derive(Clone)]
pub struct Store {
    deadline: Deadline,
    reminders: Collection<ReminderDoc>,
    claims: Collection<Claim>,
    /// The email-sender's results, journalled until recorded (see [`results`]).
    results: Collection<JournalledResult>,
    feeds: Collection<FeedDoc>,
    saves: Collection<SaveDoc>,
    change_notices: Collection<ChangeNoticeDoc>,
    addresses: Collection<AddressDoc>,
    zones: Collection<ZoneDoc>,
    mail_choices: Collection<MailChoicesDoc>,
}

impl Store {
    /// Opens the collections and declares an index for every query shape; every operation
    /// waits at most `deadline`.
    pub async fn open(db: &Database, deadline: Deadline) -> anyhow::Result<Self> {
        let store = Self {
            deadline,
            reminders: db.collection("reminders"),
            claims: db.collection("claims"),
            results: db.collection("results"),
            feeds: db.collection("feeds"),
            saves: db.collection("saves"),
            change_notices: db.collection("change_notices"),
            addresses: db.collection("addresses"),
            zones: db.collection("zones"),
            mail_choices: db.collection("mail_choices"),
        };
        mongo::ensure_indexes(
            &store.reminders,
            [
                // The scheduler's read-ahead: what is due within a minute?
                mongo::index("by_minute", doc! { "due_minute": 1, "status": 1 }),
                // Its catch-up at start (scheduled, send_at ≤ now), and the queued ones
                // whose result is overdue.
                mongo::index("by_due", doc! { "status": 1, "send_at": 1 }),
                mongo::index(
                    "by_owner",
                    doc! { "user_id": 1, "created_at": -1, "_id": -1 },
                ),
                mongo::index("by_event", doc! { "event_id": 1, "status": 1 }),
                // The email-sender's results, recorded by the scheduling pass they answer.
                mongo::index("by_pass", doc! { "queued_in": 1, "status": 1 }),
            ],
        )
        .await?;
        mongo::ensure_indexes(
            &store.saves,
            [
                mongo::index("by_user", doc! { "user_id": 1 }),
                mongo::index("by_event", doc! { "event_id": 1 }),
            ],
        )
        .await?;
        mongo::ensure_indexes(
            &store.change_notices,
            [
                // The read-ahead's equality, and the catch-up at start.
                mongo::index("by_minute", doc! { "due_minute": 1 }),
                mongo::index("by_due", doc! { "due_at": 1 }),
                mongo::index("by_user", doc! { "user_id": 1 }),
            ],
        )
        .await?;
        mongo::ensure_indexes(
            &store.mail_choices,
            [mongo::unique_index("by_token", doc! { "token": 1 })],
        )
        .await?;
        mongo::ensure_indexes(
            &store.feeds,
            [mongo::unique_index("by_token", doc! { "token": 1 })],
        )
        .await?;
        mongo::ensure_indexes(
            &store.claims,
            // Unconfirmed claims, and confirmed ones old enough to prune.
            [mongo::index(
                "by_state",
                doc! { "published": 1, "lease_until": 1 },
            )],
        )
        .await?;
        Ok(store)
    }
}

impl Store {
    /// Writes `document` as `id` unless what is stored there changed at or after `changed_at`,
    /// so that a message arriving late changes nothing; returns whether it was written.
    async fn write_if_newer<T>(
        &self,
        what: &'static str,
        collection: &Collection<T>,
        id: impl Into<bson::Bson>,
        changed_at: bson::DateTime,
        document: T,
    ) -> StoreResult<bool>
    where
        T: Serialize + Send + Sync + 'static,
    {
        let collection = collection.clone();
        let filter = doc! { "_id": id.into(), "changed_at": { "$lt": changed_at } };
        let result = self
            .deadline
            .run(what, async move {
                collection
                    .replace_one(filter, &document)
                    .upsert(true)
                    .await
                    .map(drop)
            })
            .await;
        match result {
            Ok(()) => Ok(true),
            // The upsert's insert met the newer document.
            Err(err) if err.is_duplicate() => Ok(false),
            Err(err) => Err(err),
        }
    }
}
