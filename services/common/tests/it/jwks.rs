use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use common::{
    ApiError,
    auth::{AuthError, Claims, JwksVerifier, Role},
    config::AuthConfig,
    revocation::RevokedAccounts,
    testing,
};
use jsonwebtoken::{
    Algorithm, EncodingKey, Header, encode,
    jwk::{Jwk, JwkSet, KeyAlgorithm},
};
use poem::{EndpointExt, Route, get, handler, listener::TcpAcceptor, web::Data, web::Json};

const KEY: &[u8] = include_bytes!("fixtures/test-only-ed25519.pem");
const ROTATED_KEY: &[u8] = include_bytes!("fixtures/test-only-ed25519-rotated.pem");

struct Signer {
    key: EncodingKey,
    kid: &'static str,
}

impl Signer {
    fn new(pem: &[u8], kid: &'static str) -> Self {
        Self {
            key: EncodingKey::from_ed_pem(pem).expect("test key is a PKCS#8 Ed25519 PEM"),
            kid,
        }
    }

    fn public_jwk(&self) -> Jwk {
        let mut jwk = Jwk::from_encoding_key(&self.key, Algorithm::EdDSA).expect("public part");
        jwk.common.key_id = Some(self.kid.into());
        jwk.common.key_algorithm = Some(KeyAlgorithm::EdDSA);
        jwk
    }

    fn sign(&self, claims: &Claims) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.into());
        encode(&header, claims, &self.key).expect("signing works")
    }
}

fn claims(audience: &str, expires_in: i64) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: "65f1c0ffee0000000000abcd".parse().expect("a valid id"),
        roles: vec![Role::User],
        exp: now + expires_in,
        iat: now,
        iss: "eventpost".into(),
        aud: audience.into(),
        jti: uuid::Uuid::new_v4().to_string(),
        interests: Vec::new(),
    }
}

type Published = Arc<RwLock<JwkSet>>;

#[handler]
fn jwks(keys: Data<&Published>) -> Json<JwkSet> {
    Json(keys.read().expect("not poisoned").clone())
}

/// Serves `keys` as a JWKS on a free port; returns a verifier pointed at it.
async fn jwks_server(keys: Published) -> anyhow::Result<JwksVerifier> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let app = Route::new().at("/jwks", get(jwks)).data(keys);
    tokio::spawn(poem::Server::new_with_acceptor(TcpAcceptor::from_tokio(listener)?).run(app));
    Ok(verifier_for(&format!("http://127.0.0.1:{port}/jwks")))
}

fn verifier_for(url: &str) -> JwksVerifier {
    JwksVerifier::new(AuthConfig {
        jwks_url: url.parse().expect("valid URL"),
        ..AuthConfig::default()
    })
}

fn published(signers: &[&Signer]) -> Published {
    Arc::new(RwLock::new(JwkSet {
        keys: signers.iter().map(|s| s.public_jwk()).collect(),
    }))
}

#[tokio::test]
async fn a_token_signed_with_a_published_key_yields_its_claims() -> anyhow::Result<()> {
    testing::init();
    let signer = Signer::new(KEY, "k1");
    let verifier = jwks_server(published(&[&signer])).await?;
    let issued = claims("eventpost-api", 300);

    let verified = verifier.verify(&signer.sign(&issued)).await?;

    assert_eq!(verified, issued);
    Ok(())
}

#[tokio::test]
async fn expired_foreign_and_malformed_tokens_are_refused() -> anyhow::Result<()> {
    testing::init();
    let signer = Signer::new(KEY, "k1");
    let verifier = jwks_server(published(&[&signer])).await?;

    let expired = verifier
        .verify(&signer.sign(&claims("eventpost-api", -600)))
        .await;
    let other_audience = verifier
        .verify(&signer.sign(&claims("someone-else", 300)))
        .await;
    let garbage = verifier.verify("not.a.jwt").await;
    let unknown_key = verifier
        .verify(&Signer::new(ROTATED_KEY, "stranger").sign(&claims("eventpost-api", 300)))
        .await;

    let expired = ApiError::from(expired.expect_err("expired"));
    assert!(
        matches!(&expired, ApiError::Unauthorized(why) if why.contains("expired")),
        "{expired:?}"
    );
    assert!(
        matches!(other_audience, Err(AuthError::Invalid(_))),
        "{other_audience:?}"
    );
    assert!(matches!(garbage, Err(AuthError::Malformed)), "{garbage:?}");
    assert!(
        matches!(unknown_key, Err(AuthError::UnknownKey)),
        "{unknown_key:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_foreign_issuer_a_public_key_used_as_a_secret_and_a_deleted_account_are_refused()
-> anyhow::Result<()> {
    testing::init();
    let signer = Signer::new(KEY, "k1");
    let revoked = Arc::new(RevokedAccounts::default());
    let verifier = jwks_server(published(&[&signer]))
        .await?
        .refusing(revoked.clone());
    let genuine = claims("eventpost-api", 300);

    let foreign_issuer = Claims {
        iss: "someone-else".into(),
        ..genuine.clone()
    };
    let foreign_issuer = verifier.verify(&signer.sign(&foreign_issuer)).await;
    // The classic confusion: HS256 with the published key as the shared secret.
    let mut hs256 = Header::new(Algorithm::HS256);
    hs256.kid = Some("k1".into());
    let public = serde_json::to_vec(&signer.public_jwk())?;
    let confused = encode(&hs256, &genuine, &EncodingKey::from_secret(&public))?;
    let confused = verifier.verify(&confused).await;
    revoked.revoke(genuine.sub, chrono::Utc::now());
    let deleted = verifier.verify(&signer.sign(&genuine)).await;

    assert!(
        matches!(foreign_issuer, Err(AuthError::Invalid(_))),
        "{foreign_issuer:?}"
    );
    assert!(
        matches!(confused, Err(AuthError::Invalid(_))),
        "{confused:?}"
    );
    let deleted = ApiError::from(deleted.expect_err("deleted"));
    assert!(
        matches!(&deleted, ApiError::Unauthorized(why) if why.contains("deleted")),
        "{deleted:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_by_refetching_the_key_set() -> anyhow::Result<()> {
    testing::init();
    let (old, new) = (Signer::new(KEY, "old"), Signer::new(ROTATED_KEY, "new"));
    let keys = published(&[&old]);
    let verifier = jwks_server(keys.clone()).await?;
    verifier
        .verify(&old.sign(&claims("eventpost-api", 300)))
        .await?;

    *keys.write().expect("not poisoned") = JwkSet {
        keys: vec![old.public_jwk(), new.public_jwk()],
    };
    let token = new.sign(&claims("eventpost-api", 300));

    // Refetches are spaced by MIN_REFETCH_INTERVAL, so the new key is seen within a few seconds.
    let verified = testing::eventually(Duration::from_secs(5), "the rotated key", || async {
        Ok(verifier.verify(&token).await.ok())
    })
    .await?;
    assert_eq!(verified.sub.to_string(), "65f1c0ffee0000000000abcd");
    Ok(())
}

#[tokio::test]
async fn an_unreachable_key_set_is_a_503_not_a_401() -> anyhow::Result<()> {
    testing::init();
    let verifier = verifier_for("http://127.0.0.1:1/jwks");
    let token = Signer::new(KEY, "k1").sign(&claims("eventpost-api", 300));

    let err = verifier.verify(&token).await.expect_err("no key set");

    assert!(matches!(ApiError::from(err), ApiError::Unavailable { .. }));
    Ok(())
}
