use std::time::Duration;

use common::{
    ApiError,
    config::{MongoConfig, Secret},
    mongo,
    store::StoreError,
    testing,
};
use mongodb::{Database, bson::doc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Account {
    #[serde(rename = "_id")]
    id: mongodb::bson::oid::ObjectId,
    email: String,
    interests: Vec<String>,
}

async fn fresh_database() -> anyhow::Result<Database> {
    testing::init();
    let db = mongo::connect(&testing::mongo_config("common"), "common-tests").await?;
    mongo::ping(&db).await?;
    Ok(db)
}

#[tokio::test]
async fn a_document_comes_back_as_it_was_stored() -> anyhow::Result<()> {
    let db = fresh_database().await?;
    let accounts = db.collection::<Account>("accounts");
    let stored = Account {
        id: mongodb::bson::oid::ObjectId::new(),
        email: "ada@example.com".into(),
        interests: vec!["jazz".into(), "chess".into()],
    };
    accounts.insert_one(&stored).await?;

    let found = accounts
        .find_one(doc! { "email": "ada@example.com" })
        .await?;

    assert_eq!(found, Some(stored));
    db.drop().await?;
    Ok(())
}

#[tokio::test]
async fn a_unique_index_rejects_a_duplicate_as_a_conflict() -> anyhow::Result<()> {
    let db = fresh_database().await?;
    let accounts = db.collection::<Account>("accounts");
    let unique_email = || mongo::unique_index("email_unique", doc! { "email": 1 });
    mongo::ensure_indexes(&accounts, [unique_email()]).await?;
    // Declaring the same index again is a no-op, so services can do it at every start.
    mongo::ensure_indexes(&accounts, [unique_email()]).await?;
    let account = |email: &str| Account {
        id: mongodb::bson::oid::ObjectId::new(),
        email: email.into(),
        interests: vec![],
    };
    accounts.insert_one(account("grace@example.com")).await?;

    let err = accounts
        .insert_one(account("grace@example.com"))
        .await
        .expect_err("the second insert must be refused");

    assert!(mongo::is_duplicate_key(&err), "{err:?}");
    assert!(matches!(
        ApiError::from(StoreError::from(err)),
        ApiError::Conflict(_)
    ));
    assert_eq!(accounts.count_documents(doc! {}).await?, 1);
    db.drop().await?;
    Ok(())
}

#[tokio::test]
async fn an_unreachable_server_is_reported_as_unavailable() -> anyhow::Result<()> {
    let cfg = MongoConfig {
        uri: Secret::new("mongodb://127.0.0.1:1/?directConnection=true"),
        server_selection_timeout: Duration::from_millis(300),
        ..MongoConfig::local("nowhere")
    };
    let db = mongo::connect(&cfg, "common-tests").await?;

    let err = mongo::ping(&db)
        .await
        .expect_err("nothing listens on port 1");

    assert!(mongo::is_unavailable(&err), "{err:?}");
    assert!(matches!(
        ApiError::from(StoreError::from(err)),
        ApiError::Unavailable { .. }
    ));
    Ok(())
}
