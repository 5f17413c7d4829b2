use chrono::Utc;
use common::{
    ApiError, ApiResult,
    auth::BearerAuth,
    client_address::{self, TrustedProxies},
    domain::EmailAddress,
    json::JsonBody,
};
use mongodb::bson;
use std::net::IpAddr;

use poem::{Request, web::RemoteAddr};
use poem_openapi::{ApiResponse, OpenApi, payload::Json};

use super::{
    Ctx, Tag,
    bodies::{self, CredentialsIn, RefreshIn},
    views::TokensOut,
};
use crate::{
    store::{RefreshToken, Session, User},
    tokens::OpaqueToken,
};

pub struct AuthApi {
    pub ctx: Ctx,
}

#[derive(ApiResponse)]
enum LoggedOut {
    /// That login's refresh tokens no longer work.
    #[oai(status = 204)]
    Done,
}

/// The client's address: the gateway's word for it when the peer is the gateway (a trusted
/// proxy), the peer otherwise.
pub(super) fn client_address(req: &Request, trusted: &TrustedProxies) -> Option<IpAddr> {
    let RemoteAddr(poem::Addr::SocketAddr(peer)) = req.remote_addr() else {
        return None;
    };
    let claimed = req
        .headers()
        .get(client_address::HEADER)
        .and_then(|v| v.to_str().ok());
    Some(trusted.client_from(peer.ip(), claimed))
}

/// The one answer to every failed login, so it reveals nothing about which part was wrong.
fn bad_credentials() -> ApiError {
    ApiError::Unauthorized("invalid email or password".into())
}

fn bad_refresh(why: &str) -> ApiError {
    ApiError::Unauthorized(format!("the refresh token {why}"))
}

#[OpenApi(prefix_path = "/api/v1/auth", tag = "Tag::Auth")]
impl AuthApi {
    /// Log in with email and password. Unknown addresses and wrong passwords get the same 401
    /// after the same work; attempts are limited per account and per client address (429).
    #[oai(path = "/token", method = "post", operation_id = "auth.token")]
    async fn token(
        &self,
        req: &Request,
        body: JsonBody<CredentialsIn>,
    ) -> ApiResult<Json<TokensOut>> {
        let CredentialsIn { email, password } = body.0;
        let (Ok(email), Ok(password)) = (EmailAddress::parse(&email), bodies::password(password))
        else {
            return Err(bad_credentials());
        };
        let client = client_address(req, &self.ctx.trusted_proxies);
        self.ctx.limits.check(&email, client)?;
        let user = self.ctx.store.find_by_email(&email).await?;
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        if !self.ctx.passwords.verify(password, stored).await? {
            return Err(bad_credentials());
        }
        let user = user.ok_or_else(bad_credentials)?;
        let session = self.ctx.store.start_session(user.id).await?;
        tracing::info!(user_id = %user.id, session_id = %session.id, "logged in");
        Ok(Json(issue(&self.ctx, &user, &session).await?))
    }

    /// Exchange a refresh token for a new pair. Each refresh token works once; presenting one
    /// that was already exchanged ends the whole login (it may have been stolen).
    #[oai(path = "/refresh", method = "post", operation_id = "auth.refresh")]
    async fn refresh(&self, body: JsonBody<RefreshIn>) -> ApiResult<Json<TokensOut>> {
        let digest = OpaqueToken::from_client(body.0.refresh_token).digest();
        let token = self
            .ctx
            .store
            .refresh_token(&digest)
            .await?
            .ok_or_else(|| bad_refresh("is not valid"))?;
        if token.expires_at < bson::DateTime::now() {
            return Err(bad_refresh("has expired"));
        }
        let session = self
            .ctx
            .store
            .session(token.session_id)
            .await?
            .filter(|s| !s.revoked)
            .ok_or_else(|| bad_refresh("belongs to a login that has ended"))?;
        if !self.ctx.store.spend_refresh_token(&digest).await? {
            self.ctx.store.revoke_session(session.id).await?;
            tracing::warn!(session_id = %session.id, "refresh token reused; login ended");
            return Err(bad_refresh("was already used; the login has been ended"));
        }
        let user = self
            .ctx
            .store
            .find(token.user_id)
            .await?
            .ok_or_else(|| bad_refresh("belongs to a deleted account"))?;
        Ok(Json(issue(&self.ctx, &user, &session).await?))
    }

    /// End the login a refresh token belongs to. Answers 204 whether or not the token was
    /// still valid, so it reveals nothing.
    #[oai(path = "/logout", method = "post", operation_id = "auth.logout")]
    async fn logout(&self, auth: BearerAuth, body: JsonBody<RefreshIn>) -> ApiResult<LoggedOut> {
        let caller = auth.user_id();
        let digest = OpaqueToken::from_client(body.0.refresh_token).digest();
        if let Some(token) = self.ctx.store.refresh_token(&digest).await?
            && token.user_id == caller
        {
            self.ctx.store.revoke_session(token.session_id).await?;
            tracing::info!(session_id = %token.session_id, "logged out");
        }
        Ok(LoggedOut::Done)
    }
}

/// A new token pair for `user` within `session`.
pub(super) async fn issue(ctx: &Ctx, user: &User, session: &Session) -> ApiResult<TokensOut> {
    let refresh = OpaqueToken::generate()?;
    let expires_at = Utc::now() + ctx.refresh_ttl;
    ctx.store
        .add_refresh_token(&RefreshToken {
            digest: refresh.digest(),
            session_id: session.id,
            user_id: user.id,
            expires_at: bson::DateTime::from_chrono(expires_at),
        })
        .await?;
    let access = ctx.signer.access_token(user, Utc::now())?;
    Ok(TokensOut {
        access_token: access.token,
        refresh_token: refresh.reveal().to_owned(),
        token_type: "Bearer".into(),
        expires_in: access.expires_in,
    })
}
