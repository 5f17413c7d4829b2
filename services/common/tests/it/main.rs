//! Integration tests of the shared crate against the real servers `cargo task deps` starts.

mod amqp;
mod http;
mod jwks;
mod mailpit;
mod mongo;
