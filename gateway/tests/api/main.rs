//! gateway service tests, each against its own instance on a free port.

mod health;
mod helpers;
