//! Rate limits (GCRA via `governor`): per client address for everything, stricter for logging
//! in, and per user on authenticated routes.

use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use common::{ApiError, domain::UserId};
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

use crate::config;

/// The three limits.
pub struct RateLimits {
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    token_per_client: DefaultKeyedRateLimiter<IpAddr>,
    per_user: DefaultKeyedRateLimiter<UserId>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl RateLimits {
    pub fn new(cfg: &config::Limits) -> Self {
        Self {
            per_client: RateLimiter::keyed(per_minute(cfg.per_client_per_minute)),
            token_per_client: RateLimiter::keyed(per_minute(cfg.token_per_client_per_minute)),
            per_user: RateLimiter::keyed(per_minute(cfg.per_user_per_minute)),
        }
    }

    /// Counts a request from `client`; `logging_in` also counts it against the login limit.
    pub fn check_client(&self, client: IpAddr, logging_in: bool) -> Result<(), ApiError> {
        verdict(self.per_client.check_key(&client))?;
        if logging_in {
            verdict(self.token_per_client.check_key(&client))?;
        }
        Ok(())
    }

    /// Counts a request by the signed-in `user`.
    pub fn check_user(&self, user: UserId) -> Result<(), ApiError> {
        verdict(self.per_user.check_key(&user))
    }
}

fn verdict(
    outcome: Result<(), governor::NotUntil<governor::clock::QuantaInstant>>,
) -> Result<(), ApiError> {
    outcome.map_err(|not_until| ApiError::TooManyRequests {
        retry_after: not_until
            .wait_time_from(DefaultClock::default().now())
            .max(Duration::from_secs(1)),
    })
}
