//! Where things are: the workspace root, `.run/` for data and logs, the tool cache.

use std::path::PathBuf;

/// The workspace root (the parent of `tasks/`).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Data, logs and pid files of the local stack; git-ignored.
pub fn run_dir() -> PathBuf {
    root().join(".run")
}

/// Built tools (FerretDB, Mailpit), kept outside the clone so fresh clones on the same machine
/// reuse them: `EVENTPOST_TOOLS_DIR`, else `~/.cache/eventpost/tools`.
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("EVENTPOST_TOOLS_DIR") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(|| run_dir().join("cache"));
    cache.join("eventpost").join("tools")
}

/// The cargo that invoked us.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Whether this process may install system packages.
pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0\n"))
}
