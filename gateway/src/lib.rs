//! eventpost gateway: the only public door: routing, token checks, limits, API docs.

pub mod app;
pub mod config;

pub use app::Application;

/// The service's name in logs, metrics and configuration variables.
pub const SERVICE: &str = "gateway";
