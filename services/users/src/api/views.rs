//! What the API answers with.

use common::{auth::Role, domain::Topic, time::Timestamp};
use poem_openapi::Object;

use crate::store::{Email, User};

/// A token pair.
#[derive(Debug, Object)]
pub struct TokensOut {
    /// A JWT to send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Opaque; exchange it at `/api/v1/auth/refresh` before it expires. Single use.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// One of the account's addresses.
#[derive(Debug, Object)]
pub struct EmailOut {
    /// The address, lower-cased.
    pub email: String,
    /// Whether its owner proved they receive mail there.
    pub verified: bool,
    /// Whether it is the account's primary address (exactly one is).
    pub primary: bool,
}

impl From<&Email> for EmailOut {
    fn from(email: &Email) -> Self {
        Self {
            email: email.address.to_string(),
            verified: email.verified,
            primary: email.primary,
        }
    }
}

/// The account as its owner sees it.
#[derive(Debug, Object)]
pub struct ProfileOut {
    /// 24-hex id.
    pub id: String,
    /// The primary address.
    pub email: String,
    /// How others see the user, if set.
    #[oai(nullable)]
    pub display_name: Option<String>,
    /// Every address of the account.
    pub emails: Vec<EmailOut>,
    /// Topic slugs the user likes.
    pub interests: Vec<String>,
    /// The IANA zone wall-clock reminders are set in (UTC unless the user chose one).
    pub timezone: String,
    /// `user`, and `admin` for administrators.
    pub roles: Vec<Role>,
    /// When the account was created (UTC).
    pub created_at: Timestamp,
}

impl From<&User> for ProfileOut {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user
                .primary_email()
                .map(ToString::to_string)
                .unwrap_or_default(),
            display_name: user.display_name.as_ref().map(|n| n.as_str().to_owned()),
            emails: user.emails.iter().map(EmailOut::from).collect(),
            interests: user.interests.iter().map(Topic::to_string).collect(),
            timezone: user.timezone().name().to_owned(),
            roles: user.roles.clone(),
            created_at: user.created_at.to_chrono().into(),
        }
    }
}

/// An account's roles.
#[derive(Debug, Object)]
pub struct RolesOut {
    /// The account's id.
    pub id: String,
    /// Its roles now. Tokens issued before the change keep the old roles until they expire.
    pub roles: Vec<Role>,
}
