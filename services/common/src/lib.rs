//! What every eventpost service shares: configuration, telemetry, the problem+json error model,
//! MongoDB and RabbitMQ plumbing, access-token verification, health and metrics, serving.
//!
//! Wire formats between services are here too (`messages`, `topology`), so services never
//! depend on each other.

pub mod amqp;
pub mod auth;
pub mod background;
pub mod client_address;
pub mod clock;
pub mod config;
pub mod domain;
pub mod etag;
pub mod group_commit;
pub mod health;
pub mod ics;
pub mod idempotency;
pub mod json;
pub mod messages;
pub mod metrics;
pub mod mongo;
pub mod openapi;
pub mod page;
pub mod problem;
pub mod relay;
pub mod request_id;
pub mod revocation;
pub mod routes;
pub mod server;
pub mod store;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod topology;

pub use problem::{ApiError, ApiResult};
