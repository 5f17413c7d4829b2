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

/// Who a reminder goes to, as the request said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// The account's primary address (nothing was said).
    Primary,
    /// This address; `None` when what was given did not parse (already reported).
    Named(Option<EmailAddress>),
}

impl Recipient {
    /// What a request's optional `to_email` asks for, recording a malformed one in `errors`.
    pub fn parse(raw: Option<&str>, errors: &mut FieldErrors) -> Self {
        match raw {
            None => Self::Primary,
            Some(raw) => Self::Named(errors.check("to_email", EmailAddress::parse(raw))),
        }
    }
}

/// The address `recipient` names (or the primary one) if it is a verified address of the
/// caller.
pub fn verified_address(
    addresses: &[Address],
    recipient: Recipient,
    errors: &mut FieldErrors,
) -> Option<EmailAddress> {
    let given = recipient != Recipient::Primary;
    let candidate = match recipient {
        Recipient::Named(Some(wanted)) => addresses.iter().find(|a| a.email == wanted.as_str()),
        Recipient::Named(None) => return None,
        Recipient::Primary => addresses.iter().find(|a| a.primary),
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
