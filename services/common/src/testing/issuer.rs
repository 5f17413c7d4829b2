//! [`TokenIssuer`]: signs access tokens the way the users service does and publishes its key at
//! a JWKS URL, so a service can be tested with users of any role without running the users
//! service and its password hashing.

use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use jsonwebtoken::{
    Algorithm, EncodingKey, Header,
    jwk::{Jwk, JwkSet, KeyAlgorithm},
};
use mongodb::bson::oid::ObjectId;
use poem::{EndpointExt, Route, get, handler, listener::TcpAcceptor, web::Data, web::Json};

use crate::{
    auth::{Claims, Role},
    config::AuthConfig,
};

const KID: &str = "test-issuer";

/// A JWKS endpoint on a free port and the key behind it.
pub struct TokenIssuer {
    key: EncodingKey,
    config: AuthConfig,
}

#[handler]
fn jwks(keys: Data<&Arc<JwkSet>>) -> Json<JwkSet> {
    Json(JwkSet::clone(keys.0))
}

impl TokenIssuer {
    /// Starts serving the public key of [`super::TEST_SIGNING_KEY`].
    pub async fn start() -> anyhow::Result<Self> {
        let key = EncodingKey::from_ed_pem(super::TEST_SIGNING_KEY.as_bytes())?;
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::EdDSA)?;
        jwk.common.key_id = Some(KID.into());
        jwk.common.key_algorithm = Some(KeyAlgorithm::EdDSA);
        let keys = Arc::new(JwkSet { keys: vec![jwk] });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let app = Route::new().at("/jwks", get(jwks)).data(keys);
        tokio::spawn(poem::Server::new_with_acceptor(TcpAcceptor::from_tokio(listener)?).run(app));
        let config = AuthConfig {
            jwks_url: format!("http://127.0.0.1:{port}/jwks")
                .parse()
                .context("JWKS URL")?,
            ..AuthConfig::default()
        };
        Ok(Self { key, config })
    }

    /// What a service must be configured with to trust these tokens.
    pub fn auth_config(&self) -> AuthConfig {
        self.config.clone()
    }

    /// A token for a new user id with `roles` and `interests`; returns `(user id, token)`.
    pub fn token(&self, roles: &[Role], interests: &[&str]) -> anyhow::Result<(String, String)> {
        let user = ObjectId::new().to_hex();
        let token = self.token_for(&user, roles, interests)?;
        Ok((user, token))
    }

    /// A token for `user`.
    pub fn token_for(
        &self,
        user: &str,
        roles: &[Role],
        interests: &[&str],
    ) -> anyhow::Result<String> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: crate::domain::UserId::parse(user)?,
            roles: roles.to_vec(),
            exp: now + 600,
            iat: now,
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            jti: uuid::Uuid::new_v4().to_string(),
            interests: interests.iter().map(|s| (*s).to_owned()).collect(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(KID.into());
        Ok(jsonwebtoken::encode(&header, &claims, &self.key)?)
    }
}
