//! events service tests, each against its own instance on a free port.

mod catalogue;
mod health;
mod helpers;
mod outage;
mod replicas;
mod saved;
mod search;
mod text;
