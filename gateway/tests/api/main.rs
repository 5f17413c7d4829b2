//! Gateway tests: the real gateway in front of a real users service and small real HTTP
//! servers standing in for services whose mechanics (balancing, timeouts) are under test.

#![allow(
    clippy::expect_used,
    reason = "test helpers fail loudly on broken fixtures"
)]

mod auth;
mod client_address;
mod docs;
mod helpers;
mod limits;
mod routing;
