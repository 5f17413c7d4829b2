//! `cargo task dlq list|replay`: mail the email-sender parked, and sending it again. Reads the
//! email-sender's own configuration, so it acts on the broker and prefix the service uses.

#![expect(clippy::print_stdout, reason = "the listing is the command's output")]

use common::{amqp::Broker, messages::EmailContent};
use email_sender::{config::Config, dlq};

/// Prints what is parked.
pub async fn list() -> anyhow::Result<()> {
    let config = Config::load()?;
    let broker = Broker::connect(&config.amqp, "cargo-task-dlq").await?;
    let parked = dlq::list(&broker, &config.amqp.topology()).await?;
    for mail in &parked {
        let id = mail.message_id.as_deref().unwrap_or("(no id)");
        match &mail.request {
            Ok(request) => println!("{id}\t{}\t{}", request.to, kind(&request.content)),
            Err(why) => println!("{id}\tunreadable: {why}"),
        }
    }
    eprintln!("{} parked mail(s)", parked.len());
    Ok(())
}

/// Sends everything parked back to the work queue.
pub async fn replay() -> anyhow::Result<()> {
    let config = Config::load()?;
    let broker = Broker::connect(&config.amqp, "cargo-task-dlq").await?;
    let replayed = dlq::replay(&broker, &config.amqp.topology()).await?;
    eprintln!("replayed {replayed} parked mail(s)");
    Ok(())
}

fn kind(content: &EmailContent) -> &'static str {
    match content {
        EmailContent::Welcome { .. } => "welcome",
        EmailContent::VerifyAddress { .. } => "verify-address",
        EmailContent::ResetPassword { .. } => "reset-password",
        EmailContent::Reminder { .. } => "reminder",
        EmailContent::EventChanged { .. } => "event-changed",
    }
}
