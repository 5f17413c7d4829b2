//! notifications service tests, against the real users and events services, FerretDB, RabbitMQ
//! and (end to end) the email-sender and Mailpit, all in this process on free ports.

mod actions;
mod attacks;
mod change_notices;
mod end_to_end;
mod feed;
mod health;
mod helpers;
mod idempotency;
mod lookahead;
mod outage;
mod reminders;
mod results;
mod scheduling;
mod wall_clock;
