//! `cargo task backup <dir>` and `cargo task restore <dir>`: the services' databases dumped to
//! files and put back, in mongodump's directory layout (`<dir>/<database>/<collection>.bson`,
//! the collection's documents one after the other as BSON), so `mongorestore` reads these
//! dumps and this restore reads `mongodump`'s. mongo-tools itself is not served by the Go
//! module proxy these machines use, so the local store is dumped with the driver instead.
//!
//! The email-sender's database is left out on purpose and never rolled back: its delivery
//! records are what stop a restored reminder that was mailed since the backup from being
//! mailed again (its mail request carries the same message id, which the email-sender finds
//! delivered and reports sent).

use std::{
    io::{BufReader, BufWriter, Read, Write},
    path::Path,
};

use anyhow::Context;
use futures::TryStreamExt;
use mongodb::{
    Database,
    bson::{Document, RawDocumentBuf},
};

/// The databases a backup holds (the email-sender's is left out, see above).
pub const DATABASES: [&str; 4] = ["users", "events", "notifications", "web"];

/// How many documents one insert of a restore takes.
const RESTORED_TOGETHER: usize = 1000;

/// Dumps every collection of `db` into `dir/<db name>/`; returns how many documents.
pub async fn dump(db: &Database, dir: &Path) -> anyhow::Result<usize> {
    let into = dir.join(db.name());
    std::fs::create_dir_all(&into).with_context(|| format!("creating {}", into.display()))?;
    let mut dumped = 0;
    for name in db.list_collection_names().await? {
        let path = into.join(format!("{name}.bson"));
        let mut file = BufWriter::new(std::fs::File::create(&path)?);
        let mut documents = db
            .collection::<RawDocumentBuf>(&name)
            .find(Document::new())
            .await?;
        while let Some(document) = documents.try_next().await? {
            file.write_all(document.as_bytes())?;
            dumped += 1;
        }
        file.flush()?;
    }
    Ok(dumped)
}

/// Replaces every collection of `db` with those dumped in `dir/<db name>/` (collections the
/// dump does not hold are dropped too: the database is as it was). Returns how many documents.
pub async fn restore(db: &Database, dir: &Path) -> anyhow::Result<usize> {
    let from = dir.join(db.name());
    anyhow::ensure!(
        from.is_dir(),
        "no dump of {} in {}",
        db.name(),
        dir.display()
    );
    db.drop().await?;
    let mut restored = 0;
    for entry in std::fs::read_dir(&from)? {
        let path = entry?.path();
        let Some(name) = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(".bson"))
        else {
            continue;
        };
        let collection = db.collection::<RawDocumentBuf>(name);
        let mut file = BufReader::new(std::fs::File::open(&path)?);
        let mut batch = Vec::with_capacity(RESTORED_TOGETHER);
        while let Some(document) =
            next_document(&mut file).with_context(|| format!("reading {}", path.display()))?
        {
            batch.push(document);
            if batch.len() == RESTORED_TOGETHER {
                restored += batch.len();
                collection.insert_many(std::mem::take(&mut batch)).await?;
            }
        }
        if !batch.is_empty() {
            restored += batch.len();
            collection.insert_many(batch).await?;
        }
    }
    Ok(restored)
}

/// The next BSON document of a dump, `None` at its end. A document starts with its length
/// (little-endian, the four bytes included).
fn next_document(file: &mut impl Read) -> anyhow::Result<Option<RawDocumentBuf>> {
    let mut length = [0_u8; 4];
    match file.read_exact(&mut length) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err.into()),
    }
    let size = usize::try_from(i32::from_le_bytes(length)).context("a negative length")?;
    anyhow::ensure!(size >= 5, "a document of {size} bytes");
    let mut bytes = Vec::with_capacity(size);
    bytes.extend_from_slice(&length);
    bytes.resize(size, 0);
    file.read_exact(&mut bytes[4..])?;
    Ok(Some(RawDocumentBuf::from_bytes(bytes)?))
}

/// The local platform's databases (`cargo task up`'s), dumped into `dir`.
pub async fn backup_local(dir: &Path) -> anyhow::Result<()> {
    let client = local_client().await?;
    for name in DATABASES {
        let dumped = dump(&client.database(name), dir).await?;
        eprintln!("==> {name}: {dumped} documents");
    }
    Ok(())
}

/// The local platform's databases put back from `dir` (stop the services first).
pub async fn restore_local(dir: &Path) -> anyhow::Result<()> {
    let client = local_client().await?;
    for name in DATABASES {
        let restored = restore(&client.database(name), dir).await?;
        eprintln!("==> {name}: {restored} documents");
    }
    Ok(())
}

async fn local_client() -> anyhow::Result<mongodb::Client> {
    let uri = std::env::var("EVENTPOST_MONGO_URI")
        .unwrap_or_else(|_| "mongodb://127.0.0.1:27017/?directConnection=true".into());
    Ok(mongodb::Client::with_uri_str(uri).await?)
}

#[cfg(test)]
mod tests {
    use mongodb::bson::{doc, to_raw_document_buf};

    use super::next_document;

    #[test]
    fn a_dump_reads_back_document_by_document() -> anyhow::Result<()> {
        let first = to_raw_document_buf(&doc! { "_id": 1, "title": "Jazz" })?;
        let second = to_raw_document_buf(&doc! { "_id": 2, "nested": { "a": [1, 2] } })?;
        let mut dump = first.as_bytes().to_vec();
        dump.extend_from_slice(second.as_bytes());
        let mut reader = dump.as_slice();
        assert_eq!(next_document(&mut reader)?, Some(first));
        assert_eq!(next_document(&mut reader)?, Some(second));
        assert_eq!(next_document(&mut reader)?, None);
        assert!(
            next_document(&mut [9_u8, 0, 0, 0, 1].as_slice()).is_err(),
            "cut short"
        );
        Ok(())
    }
}
