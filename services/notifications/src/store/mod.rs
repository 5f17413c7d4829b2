//! The only code that touches the `notifications` database.
//!
//! FerretDB 1.x has no transactions and its updates are read-modify-write, so the one guarantee
//! that must hold under concurrency, "each reminder is handed to the email queue by one
//! scheduler per attempt", rests on an insert guarded by a unique `_id`: a claim document
//! `<reminder id>:<attempt>` in `claims`. The claim's winner alone then updates the reminder.

mod claims;
mod reminders;
mod transitions;
mod window;

use common::{mongo, store::Deadline};
use mongodb::{Collection, Database, bson::doc};

pub use claims::{Claim, ClaimOutcome};
pub use reminders::{DUE_SHARDS, ListCursor, ListFilter, ReminderDoc, due_fields, due_shard};
pub use transitions::MailResult;

/// The notifications database.
#[derive(Clone)]
pub struct Store {
    deadline: Deadline,
    reminders: Collection<ReminderDoc>,
    claims: Collection<Claim>,
}

impl Store {
    /// Opens the collections and declares an index for every query shape; every operation
    /// waits at most `deadline`.
    pub async fn open(db: &Database, deadline: Deadline) -> anyhow::Result<Self> {
        let store = Self {
            deadline,
            reminders: db.collection("reminders"),
            claims: db.collection("claims"),
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
