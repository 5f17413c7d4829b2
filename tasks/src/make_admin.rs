//! `cargo task make-admin <email>`: grants `admin` to an existing account, for the first
//! administrator of a deployment (later ones are granted through the API). Reads the users
//! service's own configuration, so it acts on the same database the service uses.

use anyhow::Context;
use common::{auth::Role, domain::EmailAddress, mongo};
use users::{config::Config, store::Store};

pub async fn run(email: &str) -> anyhow::Result<()> {
    let email = EmailAddress::parse(email).map_err(|e| anyhow::anyhow!("email {e}"))?;
    let config = Config::load()?;
    let db = mongo::connect(&config.mongo, "cargo-task").await?;
    let store = Store::open(&db, config.mongo.deadline()).await?;
    let user = store
        .find_by_email(&email)
        .await?
        .with_context(|| format!("no account has the address {email}"))?;
    if user.roles.contains(&Role::Admin) {
        eprintln!("{email} is already an administrator");
        return Ok(());
    }
    let mut roles = user.roles;
    roles.push(Role::Admin);
    store.set_roles(user.id, &roles).await?;
    eprintln!("{email} is now an administrator (tokens issued from now on carry the role)");
    Ok(())
}
