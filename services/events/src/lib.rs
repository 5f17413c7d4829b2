//! eventpost events: the event catalogue: search, saved events, change messages.

pub mod api;
pub mod app;
pub mod catalogue;
pub mod changes;
pub mod config;
pub mod consumer;
pub mod domain;
pub mod relay;
pub mod saves_relay;
pub mod search;
pub mod seed;
pub mod store;

pub use app::Application;

/// The service's name in logs, metrics and configuration variables.
pub const SERVICE: &str = "events";
