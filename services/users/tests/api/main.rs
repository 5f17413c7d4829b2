//! users service tests, each against its own instance on a free port with a fresh database and
//! fresh queue names on the real FerretDB/MongoDB and RabbitMQ.

#![allow(
    clippy::expect_used,
    reason = "test helpers fail loudly on broken fixtures"
)]

mod account;
mod auth;
mod emails;
mod health;
mod helpers;
mod outage;
mod passwords;
mod profile;
mod register;
mod relay;
mod tokens;
