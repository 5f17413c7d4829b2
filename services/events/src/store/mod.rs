//! The only code that touches the `events` database.
//!
//! FerretDB 1.x has no transactions and its updates are read-modify-write, so every guarantee
//! rests on inserts guarded by a unique `_id`, atomic on MongoDB and FerretDB alike:
//! - a change of an event is an insert into `event_versions` with `_id` `<event id>:<version>`:
//!   of two writers starting from the same version exactly one gets to write the next;
//! - `events` holds the latest version of each live event, loaded whole into each instance's
//!   catalogue (`catalogue/`), which answers reads. The writer of a version updates it; if that
//!   writer dies in between, the relay rolls it forward;
//! - a version also says what to announce (`relayed` until it was published), so a change and
//!   its message cannot part: see `relay.rs`;
//! - a saved event is one `saved` document with `_id` `<user id>:<event id>`.

mod events;
mod saved;
mod versions;

use common::{mongo, store::Deadline};
use mongodb::{Collection, Database, bson::doc};

pub use events::{EventDoc, PlaceDoc, WriteError};
pub use saved::{SavedCursor, SavedDoc};
pub use versions::{Change, VersionDoc};

/// The events database.
#[derive(Clone)]
pub struct Store {
    deadline: Deadline,
    events: Collection<EventDoc>,
    versions: Collection<VersionDoc>,
    saved: Collection<SavedDoc>,
}

impl Store {
    /// Opens the collections and declares an index for every query shape.
    /// Every operation waits at most `deadline`.
    pub async fn open(db: &Database, deadline: Deadline) -> anyhow::Result<Self> {
        let store = Self {
            deadline,
            events: db.collection("events"),
            versions: db.collection("event_versions"),
            saved: db.collection("saved"),
        };
        mongo::ensure_indexes(
            &store.events,
            [
                // Counting upcoming events (the demo seed). Searches are the catalogue's, in
                // memory; indexes an earlier release made for them are left alone.
                mongo::index("by_start", doc! { "starts_at": 1, "_id": 1 }),
            ],
        )
        .await?;
        mongo::ensure_indexes(
            &store.versions,
            [
                // The relay reads pending versions by equality and orders them itself.
                mongo::index("by_relayed", doc! { "relayed": 1, "at": 1 }),
                // A catching-up instance reads by either time (an `$or` of the two).
                mongo::index("by_at", doc! { "at": 1 }),
                mongo::index("by_relayed_at", doc! { "relayed_at": 1 }),
                mongo::index("by_event", doc! { "event_id": 1, "version": -1 }),
            ],
        )
        .await?;
        mongo::ensure_indexes(
            &store.saved,
            [
                mongo::index("by_user", doc! { "user_id": 1, "saved_at": -1, "_id": -1 }),
                mongo::index("by_event", doc! { "event_id": 1 }),
            ],
        )
        .await?;
        Ok(store)
    }
}
