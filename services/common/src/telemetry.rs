//! Logging with `tracing`: JSON lines on stdout when deployed, a human format on a terminal.
//!
//! Every line carries the service name; lines written while a request or a message is handled
//! also carry its `request_id`, because the request-id middleware and the AMQP consumer open a
//! span with it.

use std::io::IsTerminal;

use json_subscriber::JsonLayer;
use tracing_subscriber::{
    EnvFilter, fmt, fmt::time::SystemTime, layer::SubscriberExt, util::SubscriberInitExt,
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
        registry.with(json_lines(service)).try_init()
    } else {
        registry.with(fmt::layer()).try_init()
    };
    result?;
    tracing::info!(service, "telemetry initialised");
    Ok(())
}

/// One JSON object per line: time, level, target, `service`, the event's fields and the fields
/// of every span it happened in (so `request_id` sits at the top level).
fn json_lines<S>(service: &'static str) -> JsonLayer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let mut layer = JsonLayer::stdout();
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
