//! RabbitMQ from Debian's package, started with `rabbitmq-server -detached`, with the
//! management plugin (its HTTP API lets tests close connections to simulate broker failures).

use std::{process::Command, time::Duration};

use common::{amqp, config::AmqpConfig};

use super::logs_dir;
use crate::{process, workspace};

const MANAGEMENT_API: &str = "http://127.0.0.1:15672/api/overview";

/// Makes a broker answer on 5672 with the management API on 15672.
pub async fn ensure() -> anyhow::Result<()> {
    if answers().await {
        if !management_answers().await {
            enable_management(false)?;
            wait_for_management().await?;
        }
        return Ok(());
    }
    if !process::on_path("rabbitmq-server")
        && !std::path::Path::new("/usr/sbin/rabbitmq-server").exists()
    {
        eprintln!("==> installing RabbitMQ (apt-get)");
        process::apt_install(&["rabbitmq-server"])?;
    }
    enable_management(true)?;
    eprintln!("==> starting RabbitMQ");
    process::run_quiet(
        "rabbitmq-server -detached",
        sbin("rabbitmq-server").arg("-detached"),
    )?;
    std::fs::write(started_marker(), "")?;
    let log = std::path::PathBuf::from("/var/log/rabbitmq");
    process::wait_until("RabbitMQ", Duration::from_secs(90), &log, answers).await?;
    wait_for_management().await
}

/// Stops the broker if this runner started it.
pub fn stop() -> anyhow::Result<()> {
    if std::fs::remove_file(started_marker()).is_ok() {
        process::run_quiet("rabbitmqctl stop", sbin("rabbitmqctl").arg("stop"))?;
        eprintln!("stopped RabbitMQ");
    }
    Ok(())
}

/// Stops the broker's application (an outage: every connection closes, the port stops
/// answering) and leaves the node running, so [`start_app`] brings back the durable queues
/// and what they held.
pub fn stop_app() -> anyhow::Result<()> {
    process::run_quiet("rabbitmqctl stop_app", sbin("rabbitmqctl").arg("stop_app")).map(drop)
}

/// Starts the application [`stop_app`] stopped and waits until the broker answers.
pub async fn start_app() -> anyhow::Result<()> {
    process::run_quiet(
        "rabbitmqctl start_app",
        sbin("rabbitmqctl").arg("start_app"),
    )?;
    let log = std::path::PathBuf::from("/var/log/rabbitmq");
    process::wait_until("RabbitMQ", Duration::from_secs(90), &log, answers).await
}

/// RabbitMQ 3.10 gives up dead-lettering for the whole broker once two of its dead-letter
/// workers crash within five seconds (`rabbit_fifo_dlx_sup` stops for good, and every later
/// declaration of a queue that dead-letters fails with INTERNAL_ERROR). Deleting queues that a
/// restart is still recovering can do that, so after deleting leftovers this restarts the
/// broker's application if it happened. A broker this machine does not run is left alone.
pub async fn heal_dead_lettering() -> anyhow::Result<()> {
    if !process::on_path("rabbitmqctl") && !std::path::Path::new("/usr/sbin/rabbitmqctl").exists() {
        return Ok(());
    }
    if dead_lettering_runs()? {
        return Ok(());
    }
    eprintln!("==> RabbitMQ stopped dead-lettering; restarting its application");
    stop_app()?;
    start_app().await?;
    anyhow::ensure!(
        dead_lettering_runs()?,
        "RabbitMQ still cannot dead-letter after a restart; see /var/log/rabbitmq"
    );
    Ok(())
}

fn dead_lettering_runs() -> anyhow::Result<bool> {
    let answer = process::run_quiet(
        "rabbitmqctl eval",
        sbin("rabbitmqctl").args(["eval", "is_pid(whereis(rabbit_fifo_dlx_sup))."]),
    )?;
    Ok(answer.trim() == "true")
}

fn enable_management(offline: bool) -> anyhow::Result<()> {
    let mut command = sbin("rabbitmq-plugins");
    command.arg("enable");
    if offline {
        command.arg("--offline");
    }
    process::run_quiet(
        "rabbitmq-plugins enable",
        command.arg("rabbitmq_management"),
    )?;
    Ok(())
}

async fn wait_for_management() -> anyhow::Result<()> {
    let log = logs_dir();
    process::wait_until(
        "RabbitMQ management API",
        Duration::from_secs(60),
        &log,
        management_answers,
    )
    .await
}

async fn answers() -> bool {
    let cfg = AmqpConfig {
        retry_for: Duration::ZERO,
        ..AmqpConfig::default()
    };
    // Dropping the broker closes its connection.
    amqp::Broker::connect(&cfg, "cargo-task").await.is_ok()
}

async fn management_answers() -> bool {
    reqwest::Client::new()
        .get(MANAGEMENT_API)
        .basic_auth("guest", Some("guest"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// Debian installs the broker's commands in /usr/sbin, which a non-login root shell may lack.
fn sbin(program: &str) -> Command {
    let path = std::path::Path::new("/usr/sbin").join(program);
    if path.exists() {
        Command::new(path)
    } else {
        Command::new(program)
    }
}

fn started_marker() -> std::path::PathBuf {
    workspace::run_dir().join("rabbitmq.started")
}
