//! Load from `wrk` (Debian's), and what it reached.

use std::path::Path;

use anyhow::Context;
use tokio::process::Command;

/// How long each load runs.
const DURATION: &str = "10s";

/// What `wrk` reached on one URL.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Load {
    pub connections: u32,
    pub requests_per_second: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Answers other than 2xx or 3xx, and connections that failed (connect, read, write,
    /// timeout).
    pub errors: u64,
}

/// One load to run.
pub struct Wrk<'a> {
    pub url: &'a str,
    pub connections: u32,
    pub token: Option<&'a str>,
    /// A Lua script choosing each request (`wrk -s`), for a scenario over several paths.
    pub script: Option<&'a Path>,
}

impl<'a> Wrk<'a> {
    /// `url` at `connections`.
    pub fn at(url: &'a str, connections: u32) -> Self {
        Self {
            url,
            connections,
            token: None,
            script: None,
        }
    }

    /// Runs the load for [`DURATION`] on two threads.
    pub async fn run(&self) -> anyhow::Result<Load> {
        let mut command = Command::new("wrk");
        command.args(["-t2", "-d", DURATION, "--latency", "--timeout", "5s"]);
        command.args(["-c", &self.connections.to_string()]);
        if let Some(token) = self.token {
            command.args(["-H", &format!("Authorization: Bearer {token}")]);
        }
        if let Some(script) = self.script {
            command.arg("-s").arg(script);
        }
        let output = command
            .arg(self.url)
            .output()
            .await
            .context("running wrk")?;
        let text = String::from_utf8_lossy(&output.stdout);
        let requests_per_second = text
            .lines()
            .find_map(|line| line.strip_prefix("Requests/sec:"))
            .and_then(|n| n.trim().parse().ok())
            .with_context(|| format!("no Requests/sec in wrk's output:\n{text}"))?;
        Ok(Load {
            connections: self.connections,
            requests_per_second,
            p50_ms: percentile_ms(&text, "50%"),
            p99_ms: percentile_ms(&text, "99%"),
            errors: errors(&text),
        })
    }
}

/// A percentile of wrk's `--latency` distribution (`  99%    4.56ms`), in milliseconds.
fn percentile_ms(output: &str, label: &str) -> Option<f64> {
    let value = output
        .lines()
        .find_map(|line| line.trim().strip_prefix(label))?
        .trim();
    let (number, scale) = if let Some(us) = value.strip_suffix("us") {
        (us, 0.001)
    } else if let Some(ms) = value.strip_suffix("ms") {
        (ms, 1.0)
    } else if let Some(s) = value.strip_suffix('s') {
        (s, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

/// What wrk counted as failed: `Non-2xx or 3xx responses: N` and
/// `Socket errors: connect A, read B, write C, timeout D`.
fn errors(output: &str) -> u64 {
    let answers: u64 = output
        .lines()
        .find_map(|line| line.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let sockets: u64 = output
        .lines()
        .find_map(|line| line.trim().strip_prefix("Socket errors:"))
        .map_or(0, |counts| {
            counts
                .split(',')
                .filter_map(|count| count.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        });
    answers + sockets
}

/// Writes a wrk script that requests `paths` in turn, round and round, to `file`.
pub fn round_robin_script(paths: &[String], file: &Path) -> anyhow::Result<()> {
    let quoted: Vec<String> = paths.iter().map(|path| format!("{path:?}")).collect();
    let script = format!(
        "-- Written by cargo task bench: {count} paths, requested in turn.\n\
         local paths = {{ {list} }}\n\
         local next = 0\n\
         request = function()\n  next = next % #paths + 1\n  return wrk.format(\"GET\", paths[next])\nend\n",
        count = paths.len(),
        list = quoted.join(", ")
    );
    std::fs::write(file, script).with_context(|| format!("writing {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_from_both_of_wrks_lines() {
        let output = "  Socket errors: connect 0, read 3, write 0, timeout 2\n  Non-2xx or 3xx responses: 7\nRequests/sec: 10.0\n";
        assert_eq!(errors(output), 12);
        assert_eq!(errors("Requests/sec: 10.0\n"), 0);
    }

    #[test]
    fn percentiles_read_in_their_units() {
        let output = "    50%  812.00us\n    99%    4.56ms\n";
        assert_eq!(percentile_ms(output, "50%"), Some(0.812));
        assert_eq!(percentile_ms(output, "99%"), Some(4.56));
    }
}
