//! Argon2id password hashing, off the async runtime and bounded in concurrency.
//!
//! `Argon2::default()` is Argon2id v19 with m = 19 MiB, t = 2, p = 1: OWASP's minimum. Each hash
//! holds 19 MiB for ~25 ms, so at most one per core runs at a time; the rest wait their turn
//! instead of exhausting memory. Verification uses the parameters stored in the hash, so they can
//! be raised later without invalidating existing passwords.

use std::sync::Arc;

use anyhow::Context;
use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};
use tokio::sync::Semaphore;

use crate::domain::Password;

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// A real hash of a random password, verified against when the account does not exist, so
    /// that "no such account" takes as long as "wrong password".
    dummy: Arc<str>,
}

impl Passwords {
    /// A hasher running at most one hash per available core.
    pub async fn new() -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let permits = Arc::new(Semaphore::new(cores));
        let mut random = [0u8; 24];
        getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let dummy = Self::run(&permits, move || hash_blocking(&random)).await??;
        Ok(Self {
            permits,
            dummy: dummy.into(),
        })
    }

    /// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) to store.
    pub async fn hash(&self, password: Password) -> anyhow::Result<String> {
        Self::run(&self.permits, move || hash_blocking(password.expose())).await?
    }

    /// Whether `password` matches `stored`; with no stored hash it spends the same time and
    /// answers `false`.
    pub async fn verify(&self, password: Password, stored: Option<String>) -> anyhow::Result<bool> {
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy.to_string());
        let matches = Self::run(&self.permits, move || {
            Argon2::default()
                .verify_password(password.expose(), hash.as_str())
                .is_ok()
        })
        .await?;
        Ok(known && matches)
    }

    async fn run<T: Send + 'static>(
        permits: &Semaphore,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let _permit = permits.acquire().await.context("hasher closed")?;
        tokio::task::spawn_blocking(work)
            .await
            .context("password hashing task failed")
    }
}

fn hash_blocking(password: &[u8]) -> anyhow::Result<String> {
    let hash = Argon2::default()
        .hash_password(password)
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
    Ok(hash.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(raw: &str) -> Password {
        Password::parse(raw.into()).unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        let passwords = Passwords::new().await.unwrap();
        let hash = passwords
            .hash(password("correct horse battery"))
            .await
            .unwrap();

        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            passwords
                .verify(password("correct horse battery"), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify(password("wrong horse battery"), Some(hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        let passwords = Passwords::new().await.unwrap();
        assert!(
            !passwords
                .verify(password("anything at all"), None)
                .await
                .unwrap()
        );
    }
}
