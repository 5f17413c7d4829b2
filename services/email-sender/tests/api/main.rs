//! email-sender tests against the real RabbitMQ, FerretDB/MongoDB and Mailpit.

#![allow(
    clippy::expect_used,
    reason = "test helpers fail loudly on broken fixtures"
)]

mod database;
mod delivery;
mod end_to_end;
mod health;
mod helpers;
mod outage;
