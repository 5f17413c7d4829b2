//! Access tokens: the claims every token carries, their verification against the users service's
//! JWKS, and the bearer scheme that poem-openapi operations declare.
//!
//! Keys are fetched once and cached for `jwks_ttl`; a token signed with a key id the cache does
//! not know triggers one early refetch (key rotation), at most every [`MIN_REFETCH_INTERVAL`], so
//! forged key ids cannot turn the verifier into a request amplifier. The algorithm is decided by
//! our key set, never by the token.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use jsonwebtoken::{
    Algorithm, DecodingKey, Validation, decode, decode_header,
    jwk::{AlgorithmParameters, Jwk, JwkSet},
};
use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use crate::{config::AuthConfig, domain::UserId, problem::ApiError, revocation::RevokedAccounts};

/// Shortest time between two fetches of the key set caused by unknown key ids.
pub const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(2);

/// Clock skew tolerated on `exp` and `iat`.
const LEEWAY_SECS: u64 = 30;

/// A role a user may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, poem_openapi::Enum)]
#[serde(rename_all = "lowercase")]
#[oai(rename_all = "lowercase")]
pub enum Role {
    /// Every account.
    User,
    /// May manage the catalogue and grant roles.
    Admin,
}

impl Role {
    /// The role's name, as tokens and headers carry it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
}

/// The claims of an access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id (24 hex digits in the token).
    #[serde(with = "crate::domain::ids::hex")]
    pub sub: UserId,
    /// The user's roles when the token was issued.
    pub roles: Vec<Role>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issue time, seconds since the epoch.
    pub iat: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Unique token id.
    pub jti: String,
    /// Topic slugs the user said they like, when the token was issued (for recommendations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interests: Vec<String>,
}

impl Claims {
    /// Whether the token grants `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Not a JWT, or its header names no key.
    #[error("the token is malformed")]
    Malformed,
    /// Signed with a key the users service does not publish.
    #[error("the token is signed with an unknown key")]
    UnknownKey,
    /// Bad signature, expired, wrong audience or issuer, missing claim.
    #[error("the token is invalid: {0}")]
    Invalid(#[source] jsonwebtoken::errors::Error),
    /// Its account was deleted after it was issued.
    #[error("the token's account is deleted")]
    AccountDeleted,
    /// The key set could not be fetched.
    #[error("the signing keys could not be fetched")]
    KeysUnavailable(#[source] anyhow::Error),
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::KeysUnavailable(source) => ApiError::Unavailable {
                dependency: "identity keys",
                source,
            },
            AuthError::Invalid(inner) => {
                let why = match inner.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => "the token has expired",
                    _ => "the token is invalid",
                };
                ApiError::Unauthorized(why.into())
            }
            other => ApiError::Unauthorized(other.to_string()),
        }
    }
}

struct CachedKeys {
    keys: JwkSet,
    fetched_at: Instant,
}

/// Verifies access tokens against a JWKS fetched over HTTP (or, in the service that signs them,
/// against its own keys).
pub struct JwksVerifier {
    cfg: AuthConfig,
    http: reqwest::Client,
    cache: RwLock<Option<CachedKeys>>,
    fixed: Option<JwkSet>,
    revoked: Arc<RevokedAccounts>,
}

impl JwksVerifier {
    /// A verifier that fetches keys lazily, on the first token.
    pub fn new(cfg: AuthConfig) -> Self {
        Self {
            cfg,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            cache: RwLock::new(None),
            fixed: None,
            revoked: Arc::default(),
        }
    }

    /// The same verifier, also refusing the tokens of the accounts in `revoked`.
    pub fn refusing(self, revoked: Arc<RevokedAccounts>) -> Self {
        Self { revoked, ..self }
    }

    /// A verifier that trusts exactly `keys` and never fetches: for the users service, which
    /// holds the keys it signs with. `cfg.jwks_url` is not used.
    pub fn with_keys(cfg: AuthConfig, keys: JwkSet) -> Self {
        Self {
            fixed: Some(keys),
            ..Self::new(cfg)
        }
    }

    /// The claims of `token` if it is signed by a published key, unexpired, and meant for us.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let header = decode_header(token).map_err(|_| AuthError::Malformed)?;
        let kid = header.kid.ok_or(AuthError::Malformed)?;
        let jwk = self.key(&kid).await?;
        let algorithm = algorithm_of(&jwk).ok_or(AuthError::UnknownKey)?;
        let key = DecodingKey::from_jwk(&jwk).map_err(AuthError::Invalid)?;
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECS;
        validation.set_audience(&[&self.cfg.audience]);
        validation.set_issuer(&[&self.cfg.issuer]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        let claims = decode::<Claims>(token, &key, &validation)
            .map_err(AuthError::Invalid)?
            .claims;
        if self.revoked.contains(claims.sub) {
            return Err(AuthError::AccountDeleted);
        }
        Ok(claims)
    }

    async fn key(&self, kid: &str) -> Result<Jwk, AuthError> {
        if let Some(keys) = &self.fixed {
            return keys.find(kid).cloned().ok_or(AuthError::UnknownKey);
        }
        if let Some(cached) = self.cache.read().await.as_ref() {
            let fresh = cached.fetched_at.elapsed() < self.cfg.jwks_ttl;
            let found = cached.keys.find(kid).cloned();
            match found {
                Some(jwk) if fresh => return Ok(jwk),
                None if fresh && cached.fetched_at.elapsed() < MIN_REFETCH_INTERVAL => {
                    return Err(AuthError::UnknownKey);
                }
                _ => {}
            }
        }
        let mut cache = self.cache.write().await;
        // Another task may have refreshed while this one waited for the lock.
        if let Some(cached) = cache.as_ref()
            && cached.fetched_at.elapsed() < MIN_REFETCH_INTERVAL
        {
            return cached.keys.find(kid).cloned().ok_or(AuthError::UnknownKey);
        }
        let keys = self.fetch().await.map_err(AuthError::KeysUnavailable)?;
        let found = keys.find(kid).cloned();
        *cache = Some(CachedKeys {
            keys,
            fetched_at: Instant::now(),
        });
        found.ok_or(AuthError::UnknownKey)
    }

    async fn fetch(&self) -> anyhow::Result<JwkSet> {
        tracing::debug!(url = %self.cfg.jwks_url, "fetching signing keys");
        let keys = self
            .http
            .get(self.cfg.jwks_url.clone())
            .send()
            .await?
            .error_for_status()?
            .json::<JwkSet>()
            .await?;
        Ok(keys)
    }
}

/// The algorithm a published key is used with, from the key itself.
fn algorithm_of(jwk: &Jwk) -> Option<Algorithm> {
    match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        _ => None,
    }
}

/// `Authorization: Bearer <access token>`, verified; the operation receives the claims.
///
/// The route must carry an `Arc<JwksVerifier>` as data (`route.data(verifier)`).
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_bearer")]
pub struct BearerAuth(pub Claims);

impl BearerAuth {
    /// Whose token it is.
    pub fn user_id(&self) -> UserId {
        self.0.sub
    }

    /// `Ok` if the token may call an operation needing `access`; 403 saying so otherwise.
    pub fn require(&self, access: crate::routes::Access) -> Result<(), ApiError> {
        match access {
            crate::routes::Access::Admin if !self.0.has_role(Role::Admin) => Err(
                ApiError::Forbidden("only administrators may do this".into()),
            ),
            _ => Ok(()),
        }
    }
}

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<Claims> {
    let verifier = req
        .data::<Arc<JwksVerifier>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no JwksVerifier is mounted")))?;
    Ok(verifier
        .verify(&bearer.token)
        .await
        .map_err(ApiError::from)?)
}
