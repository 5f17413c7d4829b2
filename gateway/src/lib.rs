//! eventpost gateway: the only public door. Routes to the services, checks access tokens,
//! limits rates and sizes, and serves the merged API document with its docs page.

pub mod app;
pub mod config;
pub mod limits;
pub mod openapi;
pub mod proxy;
pub mod routes;
pub mod upstreams;

pub use app::Application;

/// The service's name in logs, metrics and configuration variables.
pub const SERVICE: &str = "gateway";
