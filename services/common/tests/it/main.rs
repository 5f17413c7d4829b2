//! Integration tests of the shared crate against the real servers `cargo task deps` starts.

#![allow(
    clippy::expect_used,
    reason = "test helpers fail loudly on broken fixtures"
)]

mod amqp;
mod http;
mod jwks;
mod mailpit;
mod mongo;
