//! The development token-signing key: an Ed25519 key generated once into `.run/`, which
//! `cargo task up` hands to the users service. Deployments configure their own.

use std::path::PathBuf;

use anyhow::Context;
use ed25519_dalek::pkcs8::{EncodePrivateKey, KeypairBytes, spki::der::pem::LineEnding};

use crate::workspace;

/// The key file, created if missing.
pub fn ensure() -> anyhow::Result<PathBuf> {
    let path = workspace::run_dir().join("dev-signing-key.pem");
    if path.exists() {
        return Ok(path);
    }
    std::fs::write(&path, generate_pem()?.as_bytes())?;
    restrict(&path)?;
    eprintln!(
        "==> generated a development signing key in {}",
        path.display()
    );
    Ok(path)
}

/// A new Ed25519 key as PKCS#8 v1 PEM (the form `openssl genpkey` writes and jsonwebtoken
/// reads; v2, which also embeds the public key, is refused).
fn generate_pem() -> anyhow::Result<String> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let pem = KeypairBytes {
        secret_key: seed,
        public_key: None,
    }
    .to_pkcs8_pem(LineEnding::LF)
    .context("encoding the development signing key")?;
    Ok(pem.to_string())
}

#[cfg(unix)]
fn restrict(path: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &std::path::Path) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use common::config::Secret;
    use users::tokens::{Signer, TokenConfig};

    use super::*;

    #[test]
    fn a_generated_key_is_accepted_by_the_users_service() {
        let config = TokenConfig {
            signing_key: Some(Secret::new(generate_pem().unwrap())),
            ..TokenConfig::default()
        };
        let signer = Signer::from_config(&config).unwrap();
        assert_eq!(signer.jwks().keys.len(), 1);
    }

    #[test]
    fn generated_keys_differ() {
        assert_ne!(generate_pem().unwrap(), generate_pem().unwrap());
    }
}
