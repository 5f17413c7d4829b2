//! Who is calling: the token they sent (forwarded to the users service) and which of their
//! addresses may receive reminders.

use common::{ApiError, ApiResult, domain::EmailAddress, problem::FieldErrors};
use poem::Request;

use crate::clients::Address;

/// The access token the caller sent (the security scheme already verified it).
pub fn bearer_token(request: &Request) -> ApiResult<&str> {
    request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .get(7..)
                .filter(|_| value[..7].eq_ignore_ascii_case("bearer "))
        })
        .ok_or_else(|| ApiError::Unauthorized("a bearer token is required".into()))
}

/// `wanted` (or the primary address) if it is a verified address of the caller.
pub fn verified_address(
    addresses: &[Address],
    wanted: Option<EmailAddress>,
    given: bool,
    errors: &mut FieldErrors,
) -> Option<EmailAddress> {
    let candidate = match wanted {
        Some(wanted) => addresses.iter().find(|a| a.email == wanted.as_str()),
        None if given => return None,
        None => addresses.iter().find(|a| a.primary),
    };
    match candidate {
        Some(address) if address.verified => EmailAddress::parse(&address.email).ok(),
        _ if given => {
            errors.add("to_email", "is not a verified address of your account");
            None
        }
        _ => {
            errors.add("to_email", "your primary address is not verified yet; verify it or give another verified address");
            None
        }
    }
}
