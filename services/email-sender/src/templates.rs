//! Rendering a mail request into a subject, a plain-text and an HTML part (minijinja, templates
//! compiled in; HTML templates escape what they insert).

use common::messages::{EmailContent, EmailRequestedV1};
use minijinja::{Environment, context};

/// A mail's words.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
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
        ] {
            env.add_template(name, source)?;
        }
        Ok(Self { env })
    }

    /// The words of `request`.
    pub fn render(&self, request: &EmailRequestedV1) -> anyhow::Result<Rendered> {
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
