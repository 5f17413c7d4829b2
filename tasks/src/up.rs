//! `cargo task up`: the whole platform on this machine. Dependencies first, then every service
//! built in release mode and started with its output prefixed by its name; Ctrl-C stops them.

use std::{process::Stdio, time::Duration};

use anyhow::Context;
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
};

use crate::{deps, process, workspace};

/// The users service's key settings; the development key is used unless one is configured.
const SIGNING_KEY_VAR: &str = "EVENTPOST_USERS__TOKENS__SIGNING_KEY";
const SIGNING_KEY_FILE_VAR: &str = "EVENTPOST_USERS__TOKENS__SIGNING_KEY_FILE";

/// Every service binary, in start order, with the port it listens on by default.
const SERVICES: &[(&str, u16)] = &[
    ("users", 8081),
    ("events", 8082),
    ("notifications", 8083),
    ("email-sender", 8084),
    ("web", 8085),
    ("gateway", 8080),
];

/// The gateway's trusted proxies: the web app, on this machine, names its visitors.
const TRUSTED_PROXIES_VAR: &str = "EVENTPOST_GATEWAY__TRUSTED_PROXIES";

pub async fn run() -> anyhow::Result<()> {
    let endpoints = deps::ensure_all().await?;
    let mut build = vec!["build", "--release"];
    for (name, _) in SERVICES {
        build.extend(["-p", name]);
    }
    process::run_step("cargo build --release", workspace::cargo(), &build)?;

    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace::root().join("target"));
    let signing_key = deps::signing_key::ensure()?;
    let mut children = Vec::new();
    for (name, _) in SERVICES {
        let mut command = Command::new(target.join("release").join(name));
        let configured = [SIGNING_KEY_VAR, SIGNING_KEY_FILE_VAR]
            .iter()
            .any(|var| std::env::var_os(var).is_some());
        if *name == "users" && !configured {
            command.env(SIGNING_KEY_FILE_VAR, &signing_key);
        }
        if *name == "gateway" && std::env::var_os(TRUSTED_PROXIES_VAR).is_none() {
            command.env(TRUSTED_PROXIES_VAR, r#"["127.0.0.1/32"]"#);
        }
        children.push((*name, start(name, command)?));
    }

    eprintln!("\neventpost is starting; Ctrl-C stops it.");
    eprintln!("  eventpost      http://127.0.0.1:8080 (the web app, and the API under /api)");
    for (name, port) in SERVICES {
        eprintln!("  {name:<14} http://127.0.0.1:{port}/healthz");
    }
    eprintln!("  MongoDB        {} (FerretDB)", endpoints.mongo);
    eprintln!("  RabbitMQ       {}", endpoints.amqp);
    eprintln!("  SMTP           {}", endpoints.smtp);
    eprintln!("  Mailpit UI     {}", endpoints.mailpit_ui);
    eprintln!("  RabbitMQ UI    {} (guest/guest)", endpoints.rabbitmq_ui);

    let outcome = tokio::select! {
        signal = tokio::signal::ctrl_c() => signal.map_err(anyhow::Error::from),
        exited = first_exit(&mut children) => Err(exited),
    };
    eprintln!("\nstopping services");
    for (name, child) in &mut children {
        stop(name, child).await;
    }
    outcome
}

/// Waits until any service exits on its own; the platform is not whole without it.
async fn first_exit(children: &mut [(&'static str, Child)]) -> anyhow::Error {
    loop {
        for (name, child) in children.iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                return anyhow::anyhow!("{name} exited ({status}); see its lines above");
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn start(name: &'static str, mut command: Command) -> anyhow::Result<Child> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    if let Some(out) = child.stdout.take() {
        tokio::spawn(prefix_lines(name, out));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(prefix_lines(name, err));
    }
    Ok(child)
}

async fn prefix_lines(name: &'static str, stream: impl AsyncRead + Unpin) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        eprintln!("[{name:<13}] {line}");
    }
}

/// SIGTERM, then up to 15 s for a graceful exit, then SIGKILL.
async fn stop(name: &str, child: &mut Child) {
    if let Some(pid) = child.id() {
        let _already_exited = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    match tokio::time::timeout(Duration::from_secs(15), child.wait()).await {
        Ok(_) => eprintln!("stopped {name}"),
        Err(_) => {
            eprintln!("{name} did not stop in time; killing it");
            let _gone = child.kill().await;
        }
    }
}
