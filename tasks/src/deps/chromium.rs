//! Debian's Chromium, which the gateway's docs test drives headless to prove `/docs` renders.

use crate::process;

/// Installs Chromium unless one is on PATH or `EVENTPOST_TEST_CHROMIUM` names another browser.
pub fn ensure() -> anyhow::Result<()> {
    if std::env::var_os("EVENTPOST_TEST_CHROMIUM").is_some() || process::on_path("chromium") {
        return Ok(());
    }
    eprintln!("==> installing Chromium (apt-get) for the browser test of /docs");
    process::apt_install(&["chromium"])
}
