//! The development token-signing key: an Ed25519 key generated once into `.run/`, which
//! `cargo task up` hands to the users service. Deployments configure their own.

use std::path::PathBuf;

use anyhow::Context;
use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey, pkcs8::spki::der::pem::LineEnding};

use crate::workspace;

/// The key file, created if missing.
pub fn ensure() -> anyhow::Result<PathBuf> {
    let path = workspace::run_dir().join("dev-signing-key.pem");
    if path.exists() {
        return Ok(path);
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let pem = SigningKey::from_bytes(&seed)
        .to_pkcs8_pem(LineEnding::LF)
        .context("encoding the development signing key")?;
    std::fs::write(&path, pem.as_bytes())?;
    restrict(&path)?;
    eprintln!(
        "==> generated a development signing key in {}",
        path.display()
    );
    Ok(path)
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
