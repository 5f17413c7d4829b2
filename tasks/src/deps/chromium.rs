//! Debian's Chromium, which the browser tests drive headless: the gateway's docs test (to prove
//! `/docs` renders) and the web app's journey (`tests/browser/`, with playwright-core and
//! axe-core from npm, installed here from its lock file).

use crate::{process, workspace};

/// Installs Chromium unless one is on PATH or `EVENTPOST_TEST_CHROMIUM` names another browser,
/// and the browser tests' npm packages unless they are installed as locked.
pub fn ensure() -> anyhow::Result<()> {
    if std::env::var_os("EVENTPOST_TEST_CHROMIUM").is_none() && !process::on_path("chromium") {
        eprintln!("==> installing Chromium (apt-get) for the browser tests");
        process::apt_install(&["chromium"])?;
    }
    install_browser_tests()
}

/// `npm ci` in `tests/browser`, when what is installed is not what the lock file names.
fn install_browser_tests() -> anyhow::Result<()> {
    let dir = workspace::root().join("tests/browser");
    let lock = std::fs::read(dir.join("package-lock.json"))?;
    let installed = std::fs::read(dir.join("node_modules/.package-lock.json")).ok();
    // npm writes the lock file's package list into node_modules; equal lists mean installed.
    if installed.is_some_and(|installed| same_packages(&lock, &installed)) {
        return Ok(());
    }
    if !process::on_path("npm") {
        anyhow::bail!("the browser tests need Node.js and npm (https://nodejs.org)");
    }
    eprintln!("==> installing the browser tests' packages (npm ci in tests/browser)");
    process::run_quiet(
        "npm ci",
        std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir),
    )?;
    Ok(())
}

/// Whether two npm lock files name the same installed packages.
fn same_packages(lock: &[u8], installed: &[u8]) -> bool {
    let packages = |raw: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(raw)
            .ok()
            .map(|lock| {
                let mut packages = lock["packages"].clone();
                if let Some(packages) = packages.as_object_mut() {
                    packages.remove("");
                }
                packages
            })
    };
    packages(lock).is_some_and(|wanted| Some(wanted) == packages(installed))
}
