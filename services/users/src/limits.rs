//! Login rate limits, per account and per client address (GCRA via `governor`).

use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use common::{ApiError, domain::EmailAddress};
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

/// The two limits a login attempt must pass.
pub struct LoginLimits {
    per_account: DefaultKeyedRateLimiter<EmailAddress>,
    per_client: DefaultKeyedRateLimiter<IpAddr>,
}

impl LoginLimits {
    /// `per_account` and `per_client` attempts per minute (0 is treated as 1).
    pub fn per_minute(per_account: u32, per_client: u32) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            per_account: RateLimiter::keyed(quota(per_account)),
            per_client: RateLimiter::keyed(quota(per_client)),
        }
    }

    /// Counts an attempt; refuses with 429 and a `Retry-After` when either limit is spent.
    pub fn check(&self, account: &EmailAddress, client: Option<IpAddr>) -> Result<(), ApiError> {
        let now = DefaultClock::default().now();
        if let Some(client) = client
            && let Err(not_until) = self.per_client.check_key(&client)
        {
            return Err(too_many(not_until.wait_time_from(now)));
        }
        self.per_account
            .check_key(account)
            .map_err(|not_until| too_many(not_until.wait_time_from(now)))
    }
}

fn too_many(retry_after: Duration) -> ApiError {
    ApiError::TooManyRequests { retry_after }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_limited_whatever_the_client_address() {
        let limits = LoginLimits::per_minute(2, 100);
        let ada = EmailAddress::parse("ada@example.com").unwrap();
        let grace = EmailAddress::parse("grace@example.com").unwrap();
        let (a, b) = (Some([10, 0, 0, 1].into()), Some([10, 0, 0, 2].into()));
        assert!(limits.check(&ada, a).is_ok());
        assert!(limits.check(&ada, b).is_ok());
        let refused = limits.check(&ada, a).unwrap_err();
        assert!(
            matches!(refused, ApiError::TooManyRequests { retry_after } if retry_after > Duration::ZERO)
        );
        assert!(
            limits.check(&grace, a).is_ok(),
            "other accounts are not affected"
        );
    }

    #[test]
    fn a_client_address_is_limited_across_accounts() {
        let limits = LoginLimits::per_minute(100, 2);
        let client = Some([192, 0, 2, 7].into());
        for n in 0..2 {
            let account = EmailAddress::parse(&format!("user{n}@example.com")).unwrap();
            assert!(limits.check(&account, client).is_ok());
        }
        let next = EmailAddress::parse("user9@example.com").unwrap();
        assert!(limits.check(&next, client).is_err());
    }
}
