//! Rendering a mail request into a subject, a plain-text and an HTML part (minijinja, templates
//! compiled in; HTML templates escape what they insert).

use common::messages::{EmailContent, EmailRequestedV1};
use minijinja::{Environment, context};

use crate::ics;

/// A mail's words, and the file it carries, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attachment: Option<Attachment>,
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
            ("reminder.txt", include_str!("templates/reminder.txt")),
            ("reminder.html", include_str!("templates/reminder.html")),
        ] {
            env.add_template(name, source)?;
        }
        Ok(Self { env })
    }

    /// The words of `request`.
    pub fn render(&self, request: &EmailRequestedV1) -> anyhow::Result<Rendered> {
        let mut attachment = None;
        let (subject, name, ctx) = match &request.content {
            EmailContent::Welcome { display_name } => (
                "Welcome to eventpost".to_owned(),
                "welcome",
                context! { display_name => display_name },
            ),
            EmailContent::VerifyAddress { token, expires_at } => (
                "Confirm your email address".to_owned(),
                "verify_address",
                context! {
                    to => request.to.as_str(),
                    token => token,
                    expires_at => expires_at.format("%Y-%m-%d %H:%M").to_string(),
                },
            ),
            EmailContent::Reminder {
                subject,
                content,
                event,
                ..
            } => {
                attachment = Some(Attachment {
                    file_name: "event.ics".into(),
                    content_type: "text/calendar; charset=utf-8",
                    body: ics::event_file(event),
                });
                let zone = event.timezone;
                let when = event
                    .starts_at
                    .with_timezone(&zone.tz())
                    .format("%A %-d %B %Y, %H:%M");
                (
                    subject.clone(),
                    "reminder",
                    context! {
                        content => content,
                        title => &event.title,
                        when => when.to_string(),
                        timezone => zone.name(),
                        place => &event.place,
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
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use common::domain::EmailAddress;

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

    #[test]
    fn a_reminder_shows_the_local_time_and_attaches_the_event() {
        let rendered = Templates::new()
            .unwrap()
            .render(&request(EmailContent::Reminder {
                reminder_id: common::domain::ReminderId::new(),
                subject: "Jazz night in one hour".into(),
                content: "Leave soon!".into(),
                event: common::messages::EventSummary {
                    id: common::domain::EventId::new(),
                    title: "Jazz night".into(),
                    starts_at: "2026-12-01T18:00:00Z".parse().unwrap(),
                    ends_at: None,
                    timezone: common::domain::TimeZone::parse("Europe/Madrid").unwrap(),
                    place: "Café Central".into(),
                },
            }))
            .unwrap();
        assert_eq!(rendered.subject, "Jazz night in one hour");
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
            }))
            .unwrap();
        assert_eq!(rendered.subject, "Confirm your email address");
        assert!(rendered.text.contains("tok-123") && rendered.html.contains("tok-123"));
        assert!(rendered.text.contains("ada@example.com"));
    }
}
