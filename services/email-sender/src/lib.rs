//! eventpost email-sender: consumes the email queue and mails each request over SMTP, once.

pub mod app;
pub mod config;
pub mod deliveries;
pub mod dlq;
pub mod mailer;
pub mod metrics;
pub mod templates;
pub mod worker;

pub use app::Application;

/// The service's name in logs, metrics and configuration variables.
pub const SERVICE: &str = "email-sender";
