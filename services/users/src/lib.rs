//! eventpost users: accounts, Argon2id passwords, EdDSA access tokens with a JWKS, refresh
//! rotation with reuse detection, profiles.

pub mod api;
pub mod app;
pub mod config;
pub mod domain;
pub mod limits;
pub mod mail_links;
pub mod outbox;
pub mod passwords;
pub mod store;
pub mod tokens;

pub use app::Application;

/// The service's name in logs, metrics and configuration variables.
pub const SERVICE: &str = "users";
