//! eventpost notifications: reminders and the scheduler that publishes them when due.

pub mod app;
pub mod config;

pub use app::Application;

/// The service's name in logs, metrics and configuration variables.
pub const SERVICE: &str = "notifications";
