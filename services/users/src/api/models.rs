//! What the API reads and writes. Request bodies derive `Deserialize` (read by `JsonBody`, which
//! names the failing field) and `Object` (documented); domain types then decide what is allowed.

use common::{auth::Role, domain::Topic, time::Timestamp};
use poem_openapi::{Object, Tags};
use serde::Deserialize;

use crate::{
    domain::{DisplayName, Password},
    store::User,
};

#[derive(Tags)]
pub enum Tag {
    /// Accounts and profiles.
    Users,
    /// Logging in, refreshing and logging out.
    Auth,
    /// Token signing keys.
    Keys,
}

/// A new account.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct RegisterIn {
    /// The primary address; compared case-insensitively.
    #[oai(validator(max_length = 254))]
    pub email: String,
    /// 8 to 128 characters.
    #[oai(validator(min_length = 8, max_length = 128))]
    pub password: String,
    /// How others see the user; 1 to 60 characters.
    #[oai(validator(max_length = 60))]
    pub display_name: Option<String>,
}

/// Email and password.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct CredentialsIn {
    /// The account's address (any case).
    pub email: String,
    /// Its password.
    pub password: String,
}

/// A refresh token, to exchange or to end its login with.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct RefreshIn {
    /// The refresh token from the last token pair.
    pub refresh_token: String,
}

/// Changes to the profile; absent fields stay as they are.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct ProfilePatch {
    /// 1 to 60 characters.
    #[oai(validator(max_length = 60))]
    pub display_name: Option<String>,
    /// Topic slugs the user likes (at most 20), replacing the current ones.
    #[oai(validator(max_items = 20))]
    pub interests: Option<Vec<String>>,
}

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

/// The account as its owner sees it.
#[derive(Debug, Object)]
pub struct ProfileOut {
    /// 24-hex id.
    pub id: String,
    /// The primary address.
    pub email: String,
    /// How others see the user, if set.
    pub display_name: Option<String>,
    /// Every address of the account.
    pub emails: Vec<EmailOut>,
    /// Topic slugs the user likes.
    pub interests: Vec<String>,
    /// `user`, and `admin` for administrators.
    pub roles: Vec<Role>,
    /// When the account was created (UTC).
    pub created_at: Timestamp,
}

impl From<&User> for ProfileOut {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_hex(),
            email: user
                .primary_email()
                .map(ToString::to_string)
                .unwrap_or_default(),
            display_name: user.display_name.as_ref().map(|n| n.as_str().to_owned()),
            emails: user
                .emails
                .iter()
                .map(|e| EmailOut {
                    email: e.address.to_string(),
                    verified: e.verified,
                    primary: e.primary,
                })
                .collect(),
            interests: user.interests.iter().map(Topic::to_string).collect(),
            roles: user.roles.clone(),
            created_at: user.created_at.to_chrono().into(),
        }
    }
}

/// Parses an optional display name.
pub fn display_name(raw: Option<&str>) -> Result<Option<DisplayName>, common::domain::DomainError> {
    raw.map(DisplayName::parse).transpose()
}

/// Parses a password.
pub fn password(raw: String) -> Result<Password, common::domain::DomainError> {
    Password::parse(raw)
}

/// An address to add, or to make primary.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct EmailIn {
    /// The address.
    #[oai(validator(max_length = 254))]
    pub email: String,
}

/// The token from a verification email.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct VerifyIn {
    /// The token from the verification email.
    pub token: String,
}

/// The password, to confirm deleting the account.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct PasswordIn {
    /// The account's current password.
    pub password: String,
}

/// The roles an account should hold; `user` is always kept.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct RolesIn {
    /// The roles to hold: `[]` or `["user"]` revokes `admin`, `["admin"]` grants it.
    #[oai(validator(max_items = 2))]
    pub roles: Vec<Role>,
}

/// An account's roles.
#[derive(Debug, Object)]
pub struct RolesOut {
    /// The account's id.
    pub id: String,
    /// Its roles now. Tokens issued before the change keep the old roles until they expire.
    pub roles: Vec<Role>,
}
