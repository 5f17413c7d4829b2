//! eventpost users: accounts, passwords, tokens (JWKS), emails and roles.

pub mod app;
pub mod config;

pub use app::Application;

/// The service's name in logs, metrics and configuration variables.
pub const SERVICE: &str = "users";
