//! Logging with `tracing`: JSON lines on stdout when deployed, a human format on a terminal.
//!
//! Every line carries the service name; lines written while a request or a message is handled
//! also carry its `request_id`, because the request-id middleware and the AMQP consumer open a
//! span with it.

use std::io::IsTerminal;

use json_subscriber::JsonLayer;
use tracing_subscriber::{
    EnvFilter, fmt, fmt::MakeWriter, fmt::time::SystemTime, layer::SubscriberExt,
    util::SubscriberInitExt,
};

use crate::config::{LogFormat, TelemetryConfig};

/// Installs the global subscriber. Call once, first thing in `main`.
///
/// `RUST_LOG` wins over `cfg.filter`; both fall back to `info`.
pub fn init(service: &'static str, cfg: &TelemetryConfig) -> anyhow::Result<()> {
    let filter = match std::env::var(EnvFilter::DEFAULT_ENV) {
        Ok(directives) => EnvFilter::try_new(directives)?,
        Err(_) => EnvFilter::try_new(cfg.filter.as_deref().unwrap_or("info"))?,
    };
    let json = match cfg.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry
            .with(json_lines(service, std::io::stdout))
            .try_init()
    } else {
        registry.with(fmt::layer()).try_init()
    };
    result?;
    tracing::info!("telemetry initialised");
    Ok(())
}

/// One JSON object per line: time, level, target, `service`, the event's fields and the fields
/// of every span it happened in (so `request_id` sits at the top level).
fn json_lines<S, W>(service: &'static str, writer: W) -> JsonLayer<S, W>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    let mut layer = JsonLayer::new(writer);
    layer
        .with_timer("timestamp", SystemTime)
        .with_level("level")
        .with_target("target")
        .with_top_level_flattened_span_list()
        .with_flattened_event();
    layer.add_static_field("service", serde_json::Value::from(service));
    layer
}

/// For tests: logs to the test writer (shown only for failing tests) when `TEST_LOG` is set,
/// nothing otherwise. Safe to call from every test.
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _already_set = tracing_subscriber::registry()
            .with(EnvFilter::new(
                "debug,lapin=info,mongodb=info,h2=info,hyper=info",
            ))
            .with(fmt::layer().with_test_writer())
            .try_init();
    }
}

#[cfg(test)]
mod tests {
    use std::{
        io,
        sync::{Arc, Mutex},
    };

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("not poisoned").extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_carry_service_level_message_and_the_request_id_of_their_span() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber =
            tracing_subscriber::registry().with(json_lines("users", move || writer.clone()));

        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", request_id = "req-7");
            let _entered = span.enter();
            tracing::warn!(attempt = 2, "retrying");
        });

        let bytes = captured.0.lock().expect("not poisoned").clone();
        let line: serde_json::Value =
            serde_json::from_slice(&bytes).expect("one JSON object per line");
        assert_eq!(line["service"], "users");
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "retrying");
        assert_eq!(line["attempt"], 2);
        assert_eq!(line["request_id"], "req-7");
        assert!(line["timestamp"].is_string());
    }
}
