//! eventpost events: the event catalogue: search, saved events, change messages.

pub mod app;
pub mod config;

pub use app::Application;

/// The service's name in logs, metrics and configuration variables.
pub const SERVICE: &str = "events";
