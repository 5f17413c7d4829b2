//! What became of each mail request, counted by outcome in the service's registry:
//! `eventpost_mail_requests_total{outcome="mailed|duplicate|busy|retried|parked|cancelled"}`.

use prometheus::{IntCounterVec, Opts, Registry};

/// What handling one mail request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// The SMTP server accepted it.
    Mailed,
    /// It had been mailed already; acknowledged.
    Duplicate,
    /// Another worker was mailing it; it comes back after the first retry delay.
    Busy,
    /// The SMTP server refused it for now; it comes back after a delay.
    Retried,
    /// Refused for good, unreadable or out of retries; parked.
    Parked,
    /// Its reminder was cancelled before it was mailed; acknowledged.
    Cancelled,
}

impl Handled {
    fn label(self) -> &'static str {
        match self {
            Self::Mailed => "mailed",
            Self::Duplicate => "duplicate",
            Self::Busy => "busy",
            Self::Retried => "retried",
            Self::Parked => "parked",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Mail requests by what became of them.
#[derive(Clone)]
pub struct MailMetrics {
    requests: IntCounterVec,
}

impl MailMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let requests = IntCounterVec::new(
            Opts::new("mail_requests_total", "Mail requests handled, by outcome"),
            &["outcome"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        Ok(Self { requests })
    }

    pub fn count(&self, handled: Handled) {
        self.requests.with_label_values(&[handled.label()]).inc();
    }
}
