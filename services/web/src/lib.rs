//! eventpost web: the pages people use, rendered on the server and served through the gateway
//! on the API's origin. It holds no data of its own but the visitors' sessions: every page is
//! made from the public API, called through the gateway in the visitor's name.

pub mod api;
pub mod app;
pub mod config;
mod pages;
mod security;
pub mod sessions;

pub use app::Application;

/// The service's name in logs, metrics and configuration variables.
pub const SERVICE: &str = "web";
