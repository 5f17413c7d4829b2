//! [`PrivateMailpit`]: a Mailpit of a test's own, on free ports, that the test may stop and
//! start (the SMTP server going away) or start refusing recipients (a permanent 5xx), without
//! disturbing the shared one other tests use.
//!
//! The binary is the one `cargo task deps` builds (`$XDG_CACHE_HOME/eventpost/tools/…`), or
//! `EVENTPOST_TEST_MAILPIT_BIN`.

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use tokio::process::{Child, Command};

use super::Mailpit;

const VERSION: &str = "v1.27.11";

/// A Mailpit process owned by one test; killed when dropped.
pub struct PrivateMailpit {
    smtp_port: u16,
    http_port: u16,
    args: Vec<String>,
    data: PathBuf,
    child: Option<Child>,
}

impl PrivateMailpit {
    /// Starts one with extra Mailpit arguments (e.g. `--smtp-allowed-recipients`).
    pub async fn start(args: &[&str]) -> anyhow::Result<Self> {
        let data = std::env::temp_dir().join(super::unique_name("mailpit"));
        std::fs::create_dir_all(&data)?;
        let mut mailpit = Self {
            smtp_port: free_port()?,
            http_port: free_port()?,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            data,
            child: None,
        };
        mailpit.resume().await?;
        Ok(mailpit)
    }

    /// SMTP host and port.
    pub fn smtp_address(&self) -> (String, u16) {
        ("127.0.0.1".into(), self.smtp_port)
    }

    /// Its HTTP API.
    pub fn api(&self) -> Mailpit {
        Mailpit::at(&format!("http://127.0.0.1:{}", self.http_port))
    }

    /// Kills it, as a crash or an outage would; what it received stays on disk.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }

    /// Starts it again on the same ports and data, and waits until it answers.
    pub async fn resume(&mut self) -> anyhow::Result<()> {
        let child = Command::new(binary())
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.http_port))
            .arg("--smtp")
            .arg(format!("127.0.0.1:{}", self.smtp_port))
            .arg("--database")
            .arg(self.data.join("mailpit.db"))
            .args(&self.args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (run `cargo task deps` first)",
                    binary().display()
                )
            })?;
        self.child = Some(child);
        let api = self.api();
        super::eventually(
            Duration::from_secs(20),
            "the private Mailpit to answer",
            || async { Ok(api.info().await.ok()) },
        )
        .await
        .map(drop)
    }
}

impl Drop for PrivateMailpit {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_dir_all(&self.data) {
            tracing::debug!(error = %err, "leaving a private Mailpit's data behind");
        }
    }
}

fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("EVENTPOST_TEST_MAILPIT_BIN") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache
        .join("eventpost/tools")
        .join(format!("mailpit-{VERSION}"))
        .join("mailpit")
}

/// A port nothing listens on right now.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
