//! eventpost email-sender: consumes the email queue and sends over SMTP.

pub mod app;
pub mod config;

pub use app::Application;

/// The service's name in logs, metrics and configuration variables.
pub const SERVICE: &str = "email-sender";
