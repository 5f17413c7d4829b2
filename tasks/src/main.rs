//! `cargo task <command>`: the project's task runner (the xtask pattern).
//!
//! Everything a developer or CI needs runs through here, so a fresh machine needs only Rust,
//! Go and (for what is installed from Debian's packages) root.

mod backup;
mod bench;
mod chaos;
mod deps;
mod dlq;
mod fuzz;
mod lint;
mod make_admin;
mod monitoring;
mod perf;
mod platform;
mod process;
mod provision;
mod python;
mod relay;
mod seed;
mod up;
mod workspace;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo task", about = "eventpost's task runner")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install what is missing and start FerretDB (on PostgreSQL), RabbitMQ and Mailpit.
    Deps,
    /// Start the dependencies and every service (release build); Ctrl-C stops them.
    Up,
    /// Stop the dependencies this runner started.
    Down,
    /// Start the dependencies, then check formatting, lints and run every test.
    Test {
        /// Extra arguments for `cargo test` (e.g. a test name filter).
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Validate the compose file (docker-compose config), lint the Dockerfile (hadolint), and
    /// check the monitoring: Prometheus configuration, alert rules and their tests (promtool).
    Lint,
    /// Deploy to AWS EC2 with Ansible; `--check` lints and runs the AWS part against a local
    /// emulator instead.
    Provision {
        /// Lint, syntax-check and run against the AWS emulator (no AWS account needed).
        #[arg(long)]
        check: bool,
    },
    /// Load the running platform through its gateway with the Taurus scenario
    /// (tests/performance/).
    Perf,
    /// Measure the platform's endpoints and the GET scenario, the catalogue at each size and the
    /// scheduler's burst (release builds); writes bench/results/<date>.json.
    Bench {
        /// Measure one area only and print its tables, writing no results file.
        #[arg(long, value_enum)]
        only: Option<bench::Area>,
    },
    /// Load the demo catalogue (1,200 upcoming events in 8 cities and 12 topics) into the local
    /// events database; run again, it only tops up.
    Seed,
    /// Drop the `test_*` databases, queues and exchanges earlier test runs left behind.
    CleanTestDbs,
    /// Inspect or replay the mail the email-sender parked.
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
    },
    /// Make every message the relays parked (see the README) fresh again, to be published on
    /// their next pass.
    RelayReplay,
    /// Inject faults into the whole platform (broker and database outages, killed and
    /// terminated services, an SMTP outage) and check nothing is lost.
    Chaos {
        /// Run one scenario only.
        #[arg(long, value_enum)]
        only: Option<chaos::Scenario>,
    },
    /// Fuzz the gateway's merged OpenAPI document with schemathesis (every check), as a user
    /// and as an administrator, on a platform of its own; any failure fails.
    Fuzz {
        /// Seconds schemathesis spends on each of the two runs.
        #[arg(long, default_value_t = 180)]
        seconds: u64,
    },
    /// Grant `admin` to the account with this address (for the first administrator).
    MakeAdmin {
        /// The account's address.
        email: String,
    },
    /// Dump the local platform's databases (all but the email-sender's) into a directory, in
    /// mongodump's layout.
    Backup {
        /// Where the dump goes.
        dir: std::path::PathBuf,
    },
    /// Put the local platform's databases back from a dump (stop the services first).
    Restore {
        /// Where the dump is.
        dir: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum DlqAction {
    /// List parked mail: message id, recipient, kind.
    List,
    /// Send every parked mail again with a fresh retry budget.
    Replay,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Deps => deps::ensure_all().await.map(drop),
        Command::Up => up::run().await,
        Command::Down => deps::stop_all().await,
        Command::Test { args } => test(&args).await,
        Command::Lint => lint::run(),
        Command::Provision { check } => provision::run(check).await,
        Command::Bench { only } => bench::run(only).await,
        Command::Perf => perf::run().await,
        Command::Seed => seed::run().await,
        Command::CleanTestDbs => clean_test_leftovers().await,
        Command::Dlq { action } => match action {
            DlqAction::List => dlq::list().await,
            DlqAction::Replay => dlq::replay().await,
        },
        Command::RelayReplay => relay::replay().await,
        Command::Chaos { only } => chaos::run(only).await,
        Command::Fuzz { seconds } => fuzz::run(std::time::Duration::from_secs(seconds)).await,
        Command::MakeAdmin { email } => make_admin::run(&email).await,
        Command::Backup { dir } => backup::backup_local(&dir).await,
        Command::Restore { dir } => backup::restore_local(&dir).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cargo task: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Removes what earlier test runs left in the database server and the broker.
async fn clean_test_leftovers() -> anyhow::Result<()> {
    deps::ferretdb::drop_test_databases().await?;
    let deleted = common::testing::RabbitAdmin::local()
        .delete_test_leftovers()
        .await?;
    eprintln!("deleted {deleted} test queue(s) and exchange(s)");
    deps::rabbitmq::heal_dead_lettering().await?;
    Ok(())
}

async fn test(extra: &[String]) -> anyhow::Result<()> {
    deps::ensure_all().await?;
    deps::chromium::ensure()?;
    clean_test_leftovers().await?;
    let cargo = workspace::cargo();
    process::run_step(
        "cargo fmt --check",
        cargo.clone(),
        &["fmt", "--all", "--", "--check"],
    )?;
    process::run_step(
        "cargo clippy",
        cargo.clone(),
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    let mut args = vec!["test", "--workspace"];
    args.extend(extra.iter().map(String::as_str));
    process::run_step("cargo test", cargo, &args)
}
