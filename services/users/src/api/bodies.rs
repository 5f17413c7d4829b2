//! What the API reads: request bodies derive `Deserialize` (read by `JsonBody`, which names the
//! failing field) and `Object` (documented); domain types then decide what is allowed.

use common::auth::Role;
use poem_openapi::Object;
use serde::Deserialize;

use crate::domain::{DisplayName, Password};

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
    #[oai(nullable)]
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
    #[oai(nullable)]
    pub display_name: Option<String>,
    /// Topic slugs the user likes (at most 20), replacing the current ones.
    #[oai(validator(max_items = 20))]
    #[oai(nullable)]
    pub interests: Option<Vec<String>>,
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
