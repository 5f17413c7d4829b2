//! The only code that touches the `users` database.
//!
//! FerretDB 1.x has no transactions, and its updates are read-modify-write without a check, so
//! two concurrent updates of one document can lose one of them. Every guarantee here therefore
//! rests on inserts guarded by unique `_id`s, atomic on MongoDB and FerretDB alike, and on keeping
//! one writer per account document:
//! - an address belongs to at most one account: `email_claims` has one document per address;
//! - a refresh token is spent at most once: spending inserts its digest into `spent_refresh_tokens`;
//! - a password reset is spent at most once, the same way (`spent_password_resets`);
//! - a message a write causes is its own document in `outbox` (see `outbox.rs` for the order).

mod accounts;
mod outbox;
mod password_resets;
mod sessions;

use common::{mongo, store::Deadline};
use mongodb::{Collection, Database, bson::doc};

pub use accounts::{ClaimError, Email, ProfileChange, User, Verification};
pub use outbox::{Exchange, OutboxMessage};
pub use password_resets::PasswordReset;
pub use sessions::{RefreshToken, Session};

/// The users database.
#[derive(Clone)]
pub struct Store {
    deadline: Deadline,
    users: Collection<User>,
    claims: Collection<accounts::EmailClaim>,
    verifications: Collection<Verification>,
    sessions: Collection<Session>,
    refresh_tokens: Collection<RefreshToken>,
    spent: Collection<sessions::SpentToken>,
    resets: Collection<PasswordReset>,
    spent_resets: Collection<password_resets::SpentReset>,
    outbox: Collection<OutboxMessage>,
}

impl Store {
    /// Opens the collections and declares their indexes; every operation waits at most
    /// `deadline`.
    pub async fn open(db: &Database, deadline: Deadline) -> anyhow::Result<Self> {
        let store = Self {
            deadline,
            users: db.collection("users"),
            claims: db.collection("email_claims"),
            verifications: db.collection("email_verifications"),
            sessions: db.collection("sessions"),
            refresh_tokens: db.collection("refresh_tokens"),
            spent: db.collection("spent_refresh_tokens"),
            resets: db.collection("password_resets"),
            spent_resets: db.collection("spent_password_resets"),
            outbox: db.collection("outbox"),
        };
        let by_user = || mongo::index("by_user", doc! { "user_id": 1 });
        mongo::ensure_indexes(&store.claims, [by_user()]).await?;
        mongo::ensure_indexes(&store.verifications, [by_user()]).await?;
        mongo::ensure_indexes(&store.sessions, [by_user()]).await?;
        mongo::ensure_indexes(&store.resets, [by_user()]).await?;
        // The relay reads fresh and parked messages by their flag.
        mongo::ensure_indexes(
            &store.outbox,
            [mongo::index("by_parked", doc! { "parked": 1 })],
        )
        .await?;
        mongo::ensure_indexes(
            &store.refresh_tokens,
            [mongo::index("by_session", doc! { "session_id": 1 })],
        )
        .await?;
        mongo::ensure_indexes(
            &store.users,
            [mongo::index("by_deleted", doc! { "deleted": 1 })],
        )
        .await?;
        Ok(store)
    }
}
