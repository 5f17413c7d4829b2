//! The JWKS and what the service refuses as an access token.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::helpers::{SIGNING_KEY, TestApp, problem, spawn_app, unique_email};

const OTHER_KEY: &str = common::testing::OTHER_TEST_SIGNING_KEY;

async fn published_kid(app: &TestApp) -> anyhow::Result<String> {
    let jwks: Value = app
        .get("/.well-known/jwks.json", None)
        .await?
        .json()
        .await?;
    Ok(jwks["keys"][0]["kid"].as_str().expect("a kid").to_owned())
}

fn claims(sub: &str, exp_offset: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": sub, "roles": ["user"], "iat": now, "exp": now + exp_offset,
        "iss": "eventpost", "aud": "eventpost-api", "jti": "t-1",
    })
}

fn sign(pem: &str, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.into());
    let key = EncodingKey::from_ed_pem(pem.as_bytes()).expect("test key");
    encode(&header, claims, &key).expect("signs")
}

#[tokio::test]
async fn the_jwks_publishes_the_ed25519_key_tokens_are_signed_with() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let tokens = app.signed_up(&unique_email("keys")).await?;

    let jwks: Value = app
        .get("/.well-known/jwks.json", None)
        .await?
        .json()
        .await?;

    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    assert_eq!(key["alg"], "EdDSA");
    assert!(
        key.get("d").is_none(),
        "the private part must never be published"
    );
    let header = jsonwebtoken::decode_header(&tokens.access_token)?;
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    app.cleanup().await
}

#[tokio::test]
async fn forged_expired_and_misdirected_tokens_are_refused_with_401() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let me: Value = {
        let tokens = app.signed_up(&unique_email("victim")).await?;
        app.get("/api/v1/users/me", Some(&tokens.access_token))
            .await?
            .json()
            .await?
    };
    let sub = me["id"].as_str().expect("an id");
    let kid = published_kid(&app).await?;
    let header = |alg: &str| URL_SAFE_NO_PAD.encode(json!({ "alg": alg, "kid": kid }).to_string());
    let body = URL_SAFE_NO_PAD.encode(claims(sub, 300).to_string());
    let public_x = {
        let jwks: Value = app
            .get("/.well-known/jwks.json", None)
            .await?
            .json()
            .await?;
        jwks["keys"][0]["x"].as_str().expect("x").to_owned()
    };
    let mut no_audience = claims(sub, 300);
    no_audience.as_object_mut().expect("object").remove("aud");

    let forged = [
        ("expired", sign(SIGNING_KEY, &kid, &claims(sub, -3600))),
        (
            "signed by another key",
            sign(OTHER_KEY, &kid, &claims(sub, 300)),
        ),
        ("alg none", format!("{}.{body}.", header("none"))),
        (
            "HS256 keyed with the public key",
            encode(
                &{
                    let mut h = Header::new(Algorithm::HS256);
                    h.kid = Some(kid.clone());
                    h
                },
                &claims(sub, 300),
                &EncodingKey::from_secret(public_x.as_bytes()),
            )?,
        ),
        ("without aud", sign(SIGNING_KEY, &kid, &no_audience)),
    ];

    let genuine = sign(SIGNING_KEY, &kid, &claims(sub, 300));
    assert_eq!(
        app.get("/api/v1/users/me", Some(&genuine)).await?.status(),
        200
    );
    for (what, token) in forged {
        let response = app.get("/api/v1/users/me", Some(&token)).await?;
        assert_eq!(response.status(), 401, "{what}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{what}");
        problem(response, 401).await?;
    }
    app.cleanup().await
}
