//! What the API reads (bodies holding a password or a token derive no `Debug`, so no log line
//! can print one): request bodies derive `Deserialize` (read by `JsonBody`, which names the
//! failing field) and `Object` (documented); domain types then decide what is allowed.

use common::{auth::Role, domain::TimeZone};
use poem_openapi::Object;
use serde::Deserialize;

use crate::domain::{DisplayName, Password};

/// A new account.
#[derive(Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct RegisterIn {
    /// The primary address; compared case-insensitively.
    #[oai(validator(
        min_length = 3,
        max_length = 254,
        pattern = r"^[^\s@]+@[^\s@]+\.[^\s@]+$"
    ))]
    pub email: String,
    /// 8 to 128 characters.
    #[oai(validator(min_length = 8, max_length = 128))]
    pub password: String,
    /// How others see the user; 1 to 60 characters.
    #[oai(
        nullable,
        validator(
            min_length = 1,
            max_length = 60,
            pattern = "^[^\u{0}-\u{1f}\u{7f}-\u{9f}]*[^\\s\u{0}-\u{1f}\u{7f}-\u{9f}][^\u{0}-\u{1f}\u{7f}-\u{9f}]*$"
        )
    )]
    pub display_name: Option<String>,
    /// An IANA time zone such as `Europe/Madrid`: wall-clock reminders are set in it.
    /// Default: UTC.
    #[oai(nullable, validator(min_length = 1, max_length = 64))]
    pub timezone: Option<String>,
}

/// Email and password.
#[derive(Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct CredentialsIn {
    /// The account's address (any case).
    pub email: String,
    /// Its password.
    pub password: String,
}

/// A refresh token, to exchange or to end its login with.
#[derive(Deserialize, Object)]
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
    #[oai(
        nullable,
        validator(
            min_length = 1,
            max_length = 60,
            pattern = "^[^\u{0}-\u{1f}\u{7f}-\u{9f}]*[^\\s\u{0}-\u{1f}\u{7f}-\u{9f}][^\u{0}-\u{1f}\u{7f}-\u{9f}]*$"
        )
    )]
    pub display_name: Option<String>,
    /// Topic slugs the user likes (at most 20), replacing the current ones.
    #[oai(
        nullable,
        validator(max_items = 20, max_length = 40, pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$")
    )]
    pub interests: Option<Vec<String>>,
    /// An IANA time zone such as `Europe/Madrid`: wall-clock reminders are set in it.
    #[oai(nullable, validator(min_length = 1, max_length = 64))]
    pub timezone: Option<String>,
}

/// Parses an optional time zone.
pub fn timezone(raw: Option<&str>) -> Result<Option<TimeZone>, common::domain::DomainError> {
    raw.map(TimeZone::parse).transpose()
}

/// Parses an optional display name.
pub fn display_name(raw: Option<&str>) -> Result<Option<DisplayName>, common::domain::DomainError> {
    raw.map(DisplayName::parse).transpose()
}

/// A new password, given with the current one.
#[derive(Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct PasswordChangeIn {
    /// The account's current password.
    pub current_password: String,
    /// The new one, 8 to 128 characters.
    #[oai(validator(min_length = 8, max_length = 128))]
    pub new_password: String,
}

/// A reset carried out.
#[derive(Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct ResetConfirmIn {
    /// The token from the reset email.
    pub token: String,
    /// The new password, 8 to 128 characters.
    #[oai(validator(min_length = 8, max_length = 128))]
    pub password: String,
}

/// Parses a password.
pub fn password(raw: String) -> Result<Password, common::domain::DomainError> {
    Password::parse(raw)
}

/// An address: to add, to make primary, or whose password to reset (any case).
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct EmailIn {
    /// The address.
    #[oai(validator(
        min_length = 3,
        max_length = 254,
        pattern = r"^[^\s@]+@[^\s@]+\.[^\s@]+$"
    ))]
    pub email: String,
}

/// The token from a verification email.
#[derive(Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct VerifyIn {
    /// The token from the verification email.
    pub token: String,
}

/// The password, to confirm deleting the account.
#[derive(Deserialize, Object)]
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
