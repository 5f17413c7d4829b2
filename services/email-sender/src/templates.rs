//! Rendering a mail request into a subject, a plain-text and an HTML part (minijinja, templates
//! compiled in; HTML templates escape what they insert).

use common::messages::{EmailContent, EmailRequestedV1};
use minijinja::{Environment, context};

use common::ics;

/// A mail's words, and the file it carries, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attachment: Option<Attachment>,
    /// Where one `POST` unsubscribes the recipient from mails of this kind (RFC 8058).
    pub unsubscribe_url: Option<String>,
}

/// A file attached to a mail.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub file_name: String,
    pub content_type: &'static str,
    pub body: String,
}

/// The templates, parsed once.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    pub fn new() -> anyhow::Result<Self> {
        let mut env = Environment::new();
        for (name, source) in [
            ("welcome.txt", include_str!("templates/welcome.txt")),
            ("welcome.html", include_str!("templates/welcome.html")),
            (
                "verify_address.txt",
                include_str!("templates/verify_address.txt"),
            ),
            (
                "verify_address.html",
                include_str!("templates/verify_address.html"),
            ),
            (
                "reset_password.txt",
                include_str!("templates/reset_password.txt"),
            ),
            (
                "reset_password.html",
                include_str!("templates/reset_password.html"),
            ),
            ("reminder.txt", include_str!("templates/reminder.txt")),
            ("reminder.html", include_str!("templates/reminder.html")),
            (
                "event_changed.txt",
                include_str!("templates/event_changed.txt"),
            ),
            (
                "event_changed.html",
                include_str!("templates/event_changed.html"),
            ),
        ] {
            env.add_template(name, source)?;
        }
        Ok(Self { env })
    }

    /// The words of `request`.
    pub fn render(&self, request: &EmailRequestedV1) -> anyhow::Result<Rendered> {
        let mut attachment = None;
        let mut unsubscribe = None;
        let (subject, name, ctx) = match &request.content {
            EmailContent::Welcome { display_name } => (
                "Welcome to eventpost".to_owned(),
                "welcome",
                context! { display_name => display_name },
            ),
            EmailContent::VerifyAddress {
                token,
                expires_at,
                link,
            } => (
                "Confirm your email address".to_owned(),
                "verify_address",
                context! {
                    to => request.to.as_str(),
                    token => token,
                    link => link,
                    expires_at => expires_at.format("%Y-%m-%d %H:%M").to_string(),
                },
            ),
            EmailContent::ResetPassword {
                token,
                expires_at,
                link,
            } => (
                "Reset your eventpost password".to_owned(),
                "reset_password",
                context! {
                    to => request.to.as_str(),
                    token => token,
                    link => link,
                    expires_at => expires_at.format("%Y-%m-%d %H:%M").to_string(),
                },
            ),
            EmailContent::Reminder {
                subject,
                content,
                event,
                links,
                ..
            } => {
                attachment = Some(calendar_file(ics::event_file(event)));
                (
                    subject.clone(),
                    "reminder",
                    context! {
                        content => content,
                        title => &event.title,
                        when => local_start(event),
                        timezone => event.timezone.name(),
                        place => &event.place,
                        links => links,
                    },
                )
            }
            EmailContent::EventChanged {
                event,
                deleted,
                unsubscribe_url,
            } => {
                let file = if *deleted {
                    ics::cancellation_file(event)
                } else {
                    ics::event_file(event)
                };
                attachment = Some(calendar_file(file));
                unsubscribe = Some(unsubscribe_url.clone());
                let subject = if *deleted {
                    format!("Cancelled: {}", event.title)
                } else {
                    format!("Changed: {}", event.title)
                };
                (
                    subject,
                    "event_changed",
                    context! {
                        deleted => deleted,
                        title => &event.title,
                        when => local_start(event),
                        timezone => event.timezone.name(),
                        place => &event.place,
                        unsubscribe_url => unsubscribe_url,
                    },
                )
            }
        };
        Ok(Rendered {
            subject,
            text: self
                .env
                .get_template(&format!("{name}.txt"))?
                .render(&ctx)?,
            html: self
                .env
                .get_template(&format!("{name}.html"))?
                .render(&ctx)?,
            attachment,
            unsubscribe_url: unsubscribe,
        })
    }
}

fn calendar_file(body: String) -> Attachment {
    Attachment {
        file_name: "event.ics".into(),
        content_type: "text/calendar; charset=utf-8",
        body,
    }
}

/// When `event` starts, on its own clock.
fn local_start(event: &common::messages::EventSummary) -> String {
    event
        .starts_at
        .with_timezone(&event.timezone.tz())
        .format("%A %-d %B %Y, %H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use common::{domain::EmailAddress, messages::ReminderLinks};

    use super::*;

    fn request(content: EmailContent) -> EmailRequestedV1 {
        EmailRequestedV1 {
            to: EmailAddress::parse("ada@example.com").unwrap(),
            content,
            requested_at: Utc::now(),
        }
    }

    #[test]
    fn a_welcome_greets_by_name_and_escapes_it_in_html() {
        let rendered = Templates::new()
            .unwrap()
            .render(&request(EmailContent::Welcome {
                display_name: Some("Ada <script>".into()),
            }))
            .unwrap();
        assert!(rendered.text.starts_with("Hello Ada <script>,"));
        assert!(
            rendered.html.contains("Hello Ada &lt;script&gt;,"),
            "{}",
            rendered.html
        );
        assert!(!rendered.html.contains("<script>"));
    }

    fn jazz_night() -> common::messages::EventSummary {
        common::messages::EventSummary {
            id: common::domain::EventId::new(),
            title: "Jazz night".into(),
            starts_at: "2026-12-01T18:00:00Z".parse().unwrap(),
            ends_at: None,
            timezone: common::domain::TimeZone::parse("Europe/Madrid").unwrap(),
            place: "Café Central".into(),
            version: 1,
        }
    }

    #[test]
    fn a_change_notice_offers_one_click_unsubscribe_and_a_deletion_cancels_the_event() {
        let templates = Templates::new().unwrap();
        let notice = |deleted| {
            templates
                .render(&request(EmailContent::EventChanged {
                    event: jazz_night(),
                    deleted,
                    unsubscribe_url: "https://eventpost.example/unsub/<tok>".into(),
                }))
                .unwrap()
        };
        let changed = notice(false);
        assert_eq!(changed.subject, "Changed: Jazz night");
        assert_eq!(
            changed.unsubscribe_url.as_deref(),
            Some("https://eventpost.example/unsub/<tok>")
        );
        assert!(changed.text.contains("Tuesday 1 December 2026, 19:00"));
        assert!(
            changed.html.contains("&lt;tok&gt;"),
            "escaped: {}",
            changed.html
        );
        assert!(!changed.attachment.unwrap().body.contains("METHOD:CANCEL"));
        let deleted = notice(true);
        assert_eq!(deleted.subject, "Cancelled: Jazz night");
        assert!(deleted.attachment.unwrap().body.contains("METHOD:CANCEL"));
    }

    #[test]
    fn a_reminder_shows_the_local_time_and_attaches_the_event() {
        let rendered = Templates::new()
            .unwrap()
            .render(&request(EmailContent::Reminder {
                reminder_id: common::domain::ReminderId::new(),
                subject: "Jazz night in one hour".into(),
                content: "Leave soon!".into(),
                event: jazz_night(),
                links: Some(ReminderLinks {
                    snooze_hour: "https://eventpost.example/snooze-1h".into(),
                    snooze_tomorrow: "https://eventpost.example/snooze-tomorrow".into(),
                    open_event: Some("https://eventpost.example/events/e1".into()),
                }),
            }))
            .unwrap();
        assert_eq!(rendered.subject, "Jazz night in one hour");
        // The HTML part escapes `/`, which a browser reads back in an attribute.
        for part in [rendered.text.clone(), rendered.html.replace("&#x2f;", "/")] {
            assert!(
                part.contains("https://eventpost.example/snooze-1h"),
                "{part}"
            );
            assert!(
                part.contains("https://eventpost.example/snooze-tomorrow"),
                "{part}"
            );
            assert!(
                part.contains("https://eventpost.example/events/e1"),
                "{part}"
            );
        }
        assert!(
            rendered
                .text
                .contains("Tuesday 1 December 2026, 19:00 (Europe/Madrid)"),
            "{}",
            rendered.text
        );
        let file = rendered.attachment.expect("the event is attached");
        assert_eq!(file.file_name, "event.ics");
        assert!(
            file.body
                .contains("DTSTART;TZID=Europe/Madrid:20261201T190000")
        );
    }

    #[test]
    fn a_verification_carries_its_token_in_both_parts() {
        let rendered = Templates::new()
            .unwrap()
            .render(&request(EmailContent::VerifyAddress {
                token: "tok-123".into(),
                expires_at: Utc::now(),
                link: None,
            }))
            .unwrap();
        assert_eq!(rendered.subject, "Confirm your email address");
        assert!(rendered.text.contains("tok-123") && rendered.html.contains("tok-123"));
        assert!(rendered.text.contains("ada@example.com"));
    }

    #[test]
    fn a_verification_with_a_link_offers_the_link_and_not_the_code() {
        let link = "https://eventpost.example/verify?token=tok-123";
        let rendered = Templates::new()
            .unwrap()
            .render(&request(EmailContent::VerifyAddress {
                token: "tok-123".into(),
                expires_at: Utc::now(),
                link: Some(link.into()),
            }))
            .unwrap();
        assert!(rendered.text.contains(link), "{}", rendered.text);
        assert!(
            rendered.html.contains(
                r#"href="https:&#x2f;&#x2f;eventpost.example&#x2f;verify?token=tok-123""#
            ),
            "{}",
            rendered.html
        );
        assert!(!rendered.text.contains("POST /api"), "{}", rendered.text);
    }

    #[test]
    fn a_password_reset_carries_its_token_in_both_parts() {
        let rendered = Templates::new()
            .unwrap()
            .render(&request(EmailContent::ResetPassword {
                token: "reset-456".into(),
                expires_at: Utc::now(),
                link: None,
            }))
            .unwrap();
        assert_eq!(rendered.subject, "Reset your eventpost password");
        assert!(rendered.text.contains("reset-456") && rendered.html.contains("reset-456"));
        assert!(rendered.text.contains("password-reset/confirm"));
    }

    #[test]
    fn a_password_reset_with_a_link_offers_the_link() {
        let link = "https://eventpost.example/reset-password?token=reset-456";
        let rendered = Templates::new()
            .unwrap()
            .render(&request(EmailContent::ResetPassword {
                token: "reset-456".into(),
                expires_at: Utc::now(),
                link: Some(link.into()),
            }))
            .unwrap();
        assert!(rendered.text.contains(link), "{}", rendered.text);
        assert!(rendered.html.contains("Choose a new password"));
    }
}
