use common::testing::{self, Mailpit};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[tokio::test]
async fn mail_sent_over_smtp_can_be_read_back_from_mailpit() -> anyhow::Result<()> {
    testing::init();
    let to = format!("{}@example.com", testing::unique_name("reader"));
    let (host, port) = Mailpit::smtp_address();
    let smtp = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .build();
    let message = Message::builder()
        .from("eventpost <noreply@eventpost.test>".parse()?)
        .to(to.parse()?)
        .subject("Jazz night starts in an hour")
        .message_id(Some("<reminder-42@eventpost.test>".into()))
        .body("See you at the club.".to_owned())?;

    smtp.send(message).await?;

    let mailpit = Mailpit::local();
    let received = mailpit.wait_for(&to, 1).await?;
    assert_eq!(received.len(), 1);
    let mail = mailpit.message(&received[0].id).await?;
    assert_eq!(mail.subject, "Jazz night starts in an hour");
    assert_eq!(mail.message_id, "reminder-42@eventpost.test");
    assert_eq!(mail.to[0].address, to);
    assert!(
        mail.text.contains("See you at the club."),
        "{:?}",
        mail.text
    );
    Ok(())
}
