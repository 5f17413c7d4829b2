//! MongoDB: connecting with bounded timeouts, pinging, declaring indexes, recognising errors
//! (which `store::StoreError` sorts into what a caller can act on).
//!
//! Everything here works the same on MongoDB 7 and on FerretDB 1.x (see tech-notes §1–2): index
//! options FerretDB lacks (TTL, partial, sparse, text, 2dsphere) are not offered.

use std::time::Duration;

use mongodb::{
    Client, Collection, Database, IndexModel,
    bson::{Document, doc},
    error::{ErrorKind, WriteFailure},
    options::{ClientOptions, IndexOptions},
};

use crate::config::MongoConfig;

/// The duplicate-key error code.
const DUPLICATE_KEY: i32 = 11000;

/// Builds a client for the service's database. Does not wait for the server: the first operation
/// (usually [`ping`]) does, for at most `server_selection_timeout`.
pub async fn connect(cfg: &MongoConfig, app_name: &str) -> anyhow::Result<Database> {
    let mut options = ClientOptions::parse(cfg.uri.expose()).await?;
    options.app_name = Some(app_name.to_owned());
    options.server_selection_timeout = Some(cfg.server_selection_timeout);
    options.connect_timeout = Some(cfg.connect_timeout);
    let client = Client::with_options(options)?;
    Ok(client.database(&cfg.database))
}

/// Asks the server to answer.
pub async fn ping(db: &Database) -> mongodb::error::Result<()> {
    db.run_command(doc! { "ping": 1 }).await.map(drop)
}

/// An index on `keys` (directions `1`/`-1`), named explicitly because FerretDB requires a name.
pub fn index(name: &str, keys: Document) -> IndexModel {
    IndexModel::builder()
        .keys(keys)
        .options(IndexOptions::builder().name(name.to_owned()).build())
        .build()
}

/// Like [`index`], and no two documents may share the key. On FerretDB, documents that lack the
/// field do not collide; on MongoDB they do (as `null`), so unique fields must always be set.
pub fn unique_index(name: &str, keys: Document) -> IndexModel {
    IndexModel::builder()
        .keys(keys)
        .options(
            IndexOptions::builder()
                .name(name.to_owned())
                .unique(true)
                .build(),
        )
        .build()
}

/// Creates the indexes if they are missing; a no-op for those that already exist as declared.
pub async fn ensure_indexes<T: Send + Sync>(
    collection: &Collection<T>,
    indexes: impl IntoIterator<Item = IndexModel>,
) -> anyhow::Result<()> {
    let indexes: Vec<IndexModel> = indexes.into_iter().collect();
    // Two instances starting together on a fresh database both find the indexes missing, and
    // FerretDB 1.24 drops one's connection (a panic in its handler) when the other's are made
    // meanwhile: the one that lost looks again and finds them made.
    let mut tries = 3;
    loop {
        tries -= 1;
        match create_missing_indexes(collection, &indexes).await {
            Err(_) if tries > 0 => tokio::time::sleep(Duration::from_millis(200)).await,
            outcome => return outcome,
        }
    }
}

async fn create_missing_indexes<T: Send + Sync>(
    collection: &Collection<T>,
    indexes: &[IndexModel],
) -> anyhow::Result<()> {
    // Only the missing ones are sent: FerretDB 1.24 drops the connection (a panic in its
    // handler) when asked again for an existing index on a dotted field such as `place.lat`.
    let existing = collection.list_index_names().await.unwrap_or_default();
    let missing: Vec<_> = indexes
        .iter()
        .filter(|index| {
            let name = index.options.as_ref().and_then(|o| o.name.as_ref());
            name.is_none_or(|name| !existing.contains(name))
        })
        .cloned()
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    collection.create_indexes(missing).await.map_err(|err| {
        anyhow::Error::new(err).context(format!("creating indexes on {}", collection.name()))
    })?;
    Ok(())
}

/// The positions of the documents an unordered `insert_many` refused as duplicates, if that
/// is all that went wrong (the others were inserted).
pub fn duplicate_positions(err: &mongodb::error::Error) -> Option<Vec<usize>> {
    let ErrorKind::InsertMany(failed) = err.kind.as_ref() else {
        return None;
    };
    if failed.write_concern_error.is_some() {
        return None;
    }
    failed
        .write_errors
        .iter()
        .flatten()
        .map(|e| (e.code == DUPLICATE_KEY).then_some(e.index))
        .collect()
}

/// Whether `err` says a unique index refused the write, in any of the driver's shapes.
pub fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(e) => e
            .write_errors
            .iter()
            .flatten()
            .any(|e| e.code == DUPLICATE_KEY),
        ErrorKind::Command(e) => e.code == DUPLICATE_KEY,
        _ => false,
    }
}

/// Whether `err` means the server could not be reached, rather than that it refused the request.
pub fn is_unavailable(err: &mongodb::error::Error) -> bool {
    matches!(
        err.kind.as_ref(),
        ErrorKind::ServerSelection { .. }
            | ErrorKind::Io(_)
            | ErrorKind::ConnectionPoolCleared { .. }
    )
}

/// Every database a test creates starts with this, so `cargo task clean-test-dbs` can find
/// what crashed tests left behind.
pub const TEST_DATABASE_PREFIX: &str = "test_";
