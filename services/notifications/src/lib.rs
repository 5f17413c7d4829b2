//! eventpost notifications: email reminders of events, and the scheduler that sends them on time.

pub mod action_links;
pub mod agenda;
pub mod api;
pub mod app;
pub mod cancellation;
pub mod change_notices;
pub mod clients;
pub mod config;
pub mod consumer;
pub mod domain;
pub mod feed;
pub mod metrics;
pub mod results;
pub mod scheduler;
pub mod store;

pub use app::Application;

/// The service's name in logs, metrics and configuration variables.
pub const SERVICE: &str = "notifications";
