//! The web app against the real platform: the users and events services, two gateways (the
//! public door, and the one the app calls the API through) and the app, in this process, on
//! the local MongoDB and RabbitMQ.

mod account;
mod admin;
mod browser;
mod from_mail;
mod helpers;
mod pages;
mod reminders;
mod sessions;
