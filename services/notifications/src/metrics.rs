//! The scheduler's and result consumer's instruments, in the service's registry.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge, Registry};

/// Counts of reminders by stage, and how late they were published.
#[derive(Clone)]
pub struct SchedulerMetrics {
    /// Found due (or with an expired lease) by the scheduler.
    pub due: IntCounter,
    /// Reminders held in the scheduler's window after its last read-ahead.
    pub held: IntGauge,
    /// Read-aheads done (the first comes once the start-up catch-up is done).
    pub read_aheads: IntCounter,
    /// Claimed by this process.
    pub claimed: IntCounter,
    /// Handed to the email queue.
    pub published: IntCounter,
    /// Reported sent by the email-sender.
    pub sent: IntCounter,
    /// Reported failed by the email-sender.
    pub failed: IntCounter,
    /// Seconds from `send_at` to the publish.
    pub lateness: Histogram,
    /// Seconds from `send_at` to the SMTP server's acceptance, as the email-sender reports it.
    pub smtp_lateness: Histogram,
}

impl SchedulerMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let counter = IntCounter::new(name, help)?;
            registry.register(Box::new(counter.clone()))?;
            Ok(counter)
        };
        let histogram = |name: &str, help: &str| -> prometheus::Result<Histogram> {
            let buckets = vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0];
            let histogram = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))?;
            registry.register(Box::new(histogram.clone()))?;
            Ok(histogram)
        };
        let held = IntGauge::new(
            "scheduler_window_reminders",
            "Reminders held in the scheduler's window after its last read-ahead",
        )?;
        registry.register(Box::new(held.clone()))?;
        Ok(Self {
            due: counter(
                "reminders_due_total",
                "Reminders found due by the scheduler",
            )?,
            held,
            read_aheads: counter(
                "scheduler_read_aheads_total",
                "Read-aheads of the reminders due in the coming minute",
            )?,
            claimed: counter(
                "reminders_claimed_total",
                "Reminders claimed by this scheduler",
            )?,
            published: counter(
                "reminders_published_total",
                "Reminders handed to the email queue",
            )?,
            sent: counter("reminders_sent_total", "Reminders the SMTP server accepted")?,
            failed: counter(
                "reminders_failed_total",
                "Reminders refused for good or out of retries",
            )?,
            lateness: histogram(
                "reminder_lateness_seconds",
                "Time from a reminder's send_at to its publish",
            )?,
            smtp_lateness: histogram(
                "reminder_smtp_lateness_seconds",
                "Time from a reminder's send_at to the SMTP server's acceptance",
            )?,
        })
    }
}
