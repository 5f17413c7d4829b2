use std::sync::Arc;

use poem_openapi::{OpenApi, payload::Json};

use crate::tokens::Signer;

pub struct KeysApi {
    pub signer: Arc<Signer>,
}

#[OpenApi(tag = "super::Tag::Keys")]
impl KeysApi {
    /// The public keys access tokens are signed with (RFC 7517). Verify a token with the key whose
    /// `kid` matches its header; a rotation adds a key with a new `kid`.
    #[oai(
        path = "/.well-known/jwks.json",
        method = "get",
        operation_id = "keys.jwks"
    )]
    async fn jwks(&self) -> Json<serde_json::Value> {
        Json(self.signer.jwks_json().clone())
    }
}
