//! Issuing tokens: short-lived access JWTs signed with our Ed25519 key (published as a JWKS), and
//! long-lived opaque refresh tokens of which only a SHA-256 hash is ever stored.

use std::{path::PathBuf, time::Duration};

use crate::store::User;
use anyhow::{Context, bail};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use common::{auth::Claims, config::Secret};
use jsonwebtoken::{
    Algorithm, EncodingKey, Header, encode,
    jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How tokens are signed and how long they live.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenConfig {
    /// The Ed25519 private key as PKCS#8 PEM (`openssl genpkey -algorithm ed25519`). Secret.
    /// Either this or `signing_key_file` must be set; `cargo task up` passes a development key
    /// it generated into `.run/`.
    pub signing_key: Option<Secret>,
    /// A file holding that PEM.
    pub signing_key_file: Option<PathBuf>,
    /// `iss` of every token. Default `eventpost`.
    pub issuer: String,
    /// `aud` of every token. Default `eventpost-api`.
    pub audience: String,
    /// Access token lifetime. Default `15m`.
    #[serde(with = "humantime_serde")]
    pub access_ttl: Duration,
    /// Refresh token lifetime (one login lasts at most this long without use). Default `30d`.
    #[serde(with = "humantime_serde")]
    pub refresh_ttl: Duration,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            signing_key: None,
            signing_key_file: None,
            issuer: "eventpost".into(),
            audience: "eventpost-api".into(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// Signs access tokens and publishes the public half of its key.
pub struct Signer {
    key: EncodingKey,
    kid: String,
    jwks: JwkSet,
    jwks_json: serde_json::Value,
    issuer: String,
    audience: String,
    access_ttl: Duration,
}

/// A freshly signed access token.
pub struct AccessToken {
    /// The compact JWT.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

impl Signer {
    /// Loads the key named by the configuration; the key id is its RFC 7638 thumbprint.
    pub fn from_config(cfg: &TokenConfig) -> anyhow::Result<Self> {
        // The services forget a deleted account after `KEPT_FOR`: a token must be dead by then.
        anyhow::ensure!(
            cfg.access_ttl <= common::revocation::KEPT_FOR,
            "tokens.access_ttl must be at most {} hours",
            common::revocation::KEPT_FOR.as_secs() / 3600
        );
        let pem = match (&cfg.signing_key, &cfg.signing_key_file) {
            (Some(pem), _) => pem.expose().to_owned(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("reading the signing key {}", path.display()))?,
            (None, None) => bail!(
                "no signing key: set EVENTPOST_USERS__TOKENS__SIGNING_KEY (PKCS#8 Ed25519 PEM) \
                 or EVENTPOST_USERS__TOKENS__SIGNING_KEY_FILE"
            ),
        };
        let key = EncodingKey::from_ed_pem(pem.as_bytes())
            .context("the signing key is not a PKCS#8 Ed25519 PEM")?;
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::EdDSA)
            .context("the signing key is not a PKCS#8 v1 Ed25519 PEM")?;
        let kid = jwk.thumbprint(ThumbprintHash::SHA256)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.key_algorithm = Some(KeyAlgorithm::EdDSA);
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let jwks = JwkSet { keys: vec![jwk] };
        Ok(Self {
            key,
            kid,
            jwks_json: serde_json::to_value(&jwks)?,
            jwks,
            issuer: cfg.issuer.clone(),
            audience: cfg.audience.clone(),
            access_ttl: cfg.access_ttl,
        })
    }

    /// The public keys, for verifying our own tokens.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// The same, as served at `/.well-known/jwks.json`.
    pub fn jwks_json(&self) -> &serde_json::Value {
        &self.jwks_json
    }

    /// An access token for `user`, issued at `now`, carrying its roles and interests.
    pub fn access_token(&self, user: &User, now: DateTime<Utc>) -> anyhow::Result<AccessToken> {
        let expires_in = self.access_ttl.as_secs();
        let claims = Claims {
            sub: user.id,
            roles: user.roles.clone(),
            exp: now.timestamp() + i64::try_from(expires_in)?,
            iat: now.timestamp(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: uuid::Uuid::new_v4().to_string(),
            interests: user
                .interests
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        let token = encode(&header, &claims, &self.key)?;
        Ok(AccessToken { token, expires_in })
    }
}

/// An opaque secret handed to a client once (refresh and verification tokens): 256 random bits,
/// base64url. Only [`OpaqueToken::digest`] is stored.
pub struct OpaqueToken(String);

impl OpaqueToken {
    /// A new random token.
    pub fn generate() -> anyhow::Result<Self> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// What the client sent back.
    pub fn from_client(raw: String) -> Self {
        Self(raw)
    }

    /// The token itself, to give to the client.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// Hex SHA-256 of the token: the only form stored. A fast hash is enough because the token
    /// carries 256 bits of entropy; there is nothing to brute-force.
    pub fn digest(&self) -> String {
        let hash = Sha256::digest(self.0.as_bytes());
        hash.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpaqueToken([redacted])")
    }
}
