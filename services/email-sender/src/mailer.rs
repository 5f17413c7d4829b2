//! Handing mail to the SMTP server (lettre, pooled async transport).

use anyhow::Context;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Attachment, Mailbox, MultiPart,
        header::{ContentType, HeaderName, HeaderValue},
    },
    transport::smtp::{
        PoolConfig,
        authentication::Credentials,
        client::{Tls, TlsParameters},
    },
};

use crate::{
    config::{SmtpConfig, SmtpTls},
    templates::Rendered,
};

/// Why a mail was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SendFailure {
    /// Worth trying again later: the server is unreachable, busy (4xx) or slow.
    #[error("temporarily refused: {0}")]
    Transient(String),
    /// The server will never take it (5xx): park it for an operator.
    #[error("refused: {0}")]
    Permanent(String),
}

/// The SMTP transport and the sender address.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(cfg: &SmtpConfig) -> anyhow::Result<Self> {
        let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.host)
            .port(cfg.port)
            .timeout(Some(cfg.timeout))
            .pool_config(PoolConfig::new().max_size(cfg.pool_size));
        let tls = match cfg.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => Tls::Required(TlsParameters::new(cfg.host.clone())?),
            SmtpTls::Tls => Tls::Wrapper(TlsParameters::new(cfg.host.clone())?),
        };
        let mut builder = builder.tls(tls);
        if let (Some(user), Some(password)) = (&cfg.username, &cfg.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose().into()));
        }
        Ok(Self {
            transport: builder.build(),
            from: cfg.from.parse().context("smtp.from is not a mailbox")?,
        })
    }

    /// Whether the server answers (for readiness).
    pub async fn is_reachable(&self) -> bool {
        self.transport.test_connection().await.unwrap_or(false)
    }

    /// Sends `rendered` to `to` with a `Message-ID` derived from `message_id`, so a mail sent
    /// twice is recognisable as one.
    pub async fn send(
        &self,
        to: &str,
        message_id: &str,
        rendered: &Rendered,
    ) -> Result<(), SendFailure> {
        let mut message = Message::builder()
            .from(self.from.clone())
            .to(to
                .parse()
                .map_err(|e| SendFailure::Permanent(format!("recipient {to}: {e}")))?)
            .subject(&rendered.subject)
            .message_id(Some(format!("<{message_id}@eventpost>")));
        if let Some(url) = &rendered.unsubscribe_url {
            // RFC 8058: a mail client offers "unsubscribe" and POSTs it, without a page to visit.
            message = message
                .raw_header(HeaderValue::new(LIST_UNSUBSCRIBE, format!("<{url}>")))
                .raw_header(HeaderValue::new(
                    LIST_UNSUBSCRIBE_POST,
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        let message = message
            .multipart(body(rendered))
            .map_err(|e| SendFailure::Permanent(format!("building the mail: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(err) if err.is_permanent() => Err(SendFailure::Permanent(err.to_string())),
            Err(err) => Err(SendFailure::Transient(err.to_string())),
        }
    }
}

const LIST_UNSUBSCRIBE: HeaderName = HeaderName::new_from_ascii_str("List-Unsubscribe");
const LIST_UNSUBSCRIBE_POST: HeaderName = HeaderName::new_from_ascii_str("List-Unsubscribe-Post");

/// Plain text and HTML as alternatives, inside a mixed part with the attachment if there is one.
fn body(rendered: &Rendered) -> MultiPart {
    let words = MultiPart::alternative_plain_html(rendered.text.clone(), rendered.html.clone());
    match &rendered.attachment {
        None => words,
        Some(file) => {
            let content_type =
                ContentType::parse(file.content_type).unwrap_or(ContentType::TEXT_PLAIN);
            MultiPart::mixed().multipart(words).singlepart(
                Attachment::new(file.file_name.clone()).body(file.body.clone(), content_type),
            )
        }
    }
}
