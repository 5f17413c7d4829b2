//! The scheduler: what it costs with nothing due as reminders pile up in the future, how late
//! reminders falling due meanwhile are (at the broker and at the SMTP server), and how fast a
//! burst due in one second reaches the SMTP server against that server's raw rate.
//!
//! Release builds of notifications (role `all`, as `cargo task up` runs it) and the
//! email-sender run against the local stack; each measurement has a Mailpit of its own.

mod cpu;
mod mail;
mod waiting;

use std::{collections::HashSet, time::Duration};

use anyhow::Context;
use chrono::{DateTime, Utc};
use common::testing::{PrivateMailpit, RabbitAdmin};
use tokio::process::Child;

use super::services::{SCHEDULER_PORT, fresh_database, start};

/// Reminders waiting, for each row, unless `EVENTPOST_BENCH_WAITING` (comma-separated) says.
const WAITING: [usize; 3] = [0, 100_000, 1_000_000];

/// Reminders watched falling due over a minute in each row.
const WATCHED: usize = 200;

/// Reminders due in the same second in the burst.
pub const BURST: usize = 10_000;

/// How long the idle cost is measured.
const IDLE_WINDOW: Duration = Duration::from_secs(60);

/// The broker namespace of the bench's processes.
const PREFIX: &str = "bench.";

const DATABASE: &str = "bench_notifications";
const EMAIL_DATABASE: &str = "bench_email";
const EMAIL_SENDER_PORT: u16 = 18086;

/// One number of reminders waiting.
#[derive(serde::Serialize)]
pub struct Row {
    pub waiting: usize,
    /// Seconds the bench took to write them.
    pub written_in_s: f64,
    /// Percent of one core over 60 s with nothing due.
    pub idle_notifications_cpu_percent: f64,
    pub idle_database_cpu_percent: f64,
    /// From `send_at` to the broker holding the mail request.
    pub to_broker: Lateness,
    /// From `send_at` to the SMTP server's acceptance.
    pub to_smtp: Lateness,
}

/// Milliseconds late, over the reminders that arrived; and how many did not.
#[derive(serde::Serialize)]
pub struct Lateness {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub missing: usize,
}

/// The burst.
#[derive(serde::Serialize)]
pub struct Burst {
    pub reminders: usize,
    /// From their due second to the last one at the SMTP server.
    pub all_at_smtp_s: f64,
    pub lost: usize,
    pub doubled: usize,
    pub pipeline_per_s: f64,
    /// lettre straight to the SMTP server over the same number of connections.
    pub raw_smtp_per_s: f64,
    pub smtp_connections: u32,
    /// CPU seconds each part used from the burst's second until the last mail arrived (the
    /// machine has two cores).
    pub cpu_seconds: std::collections::BTreeMap<&'static str, f64>,
}

#[derive(serde::Serialize)]
pub struct Scheduler {
    pub rows: Vec<Row>,
    pub burst: Burst,
}

pub async fn measure() -> anyhow::Result<Scheduler> {
    let mut rows = Vec::new();
    for waiting in sizes() {
        rows.push(row(waiting).await?);
    }
    let burst = burst().await?;
    print(&rows, &burst);
    Ok(Scheduler { rows, burst })
}

fn sizes() -> Vec<usize> {
    match std::env::var("EVENTPOST_BENCH_WAITING") {
        Ok(raw) => raw
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect(),
        Err(_) => WAITING.to_vec(),
    }
}

/// Idle cost and lateness with `waiting` reminders over the coming year.
async fn row(waiting: usize) -> anyhow::Result<Row> {
    RabbitAdmin::local().delete_prefixed(PREFIX).await?;
    let db = fresh_database(DATABASE).await?;
    notifications::store::Store::open(&db, common::config::MongoConfig::local("bench").deadline())
        .await?;
    let written_in_s = waiting::fill(&db, waiting, Utc::now()).await?;
    eprintln!("==> {waiting} reminders waiting, written in {written_in_s:.1} s");
    settle_store();

    let mut notifications = notifications_process()?;
    wait_until_reading_ahead().await?;
    let pid = notifications.id().context("notifications has no pid")?;
    let idle = cpu::usage(&[vec![pid], cpu::database_pids()], IDLE_WINDOW).await;

    let mailpit = PrivateMailpit::start(&["--max", "0"]).await?;
    let (tap, tap_connection) = mail::Tap::open(PREFIX).await?;
    let mut email_sender = email_sender_process(mailpit.smtp_address().1).await?;
    let now = Utc::now();
    let first = next_read_minute(now);
    let spacing = chrono::Duration::milliseconds(60_000 / WATCHED as i64);
    let watched = (0..WATCHED)
        .map(|i| {
            let at = first + spacing * i32::try_from(i).unwrap_or(0);
            waiting::reminder(&format!("watched{i}@bench.example.com"), at, now)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let due: Vec<(String, DateTime<Utc>)> = watched
        .iter()
        .map(|r| (r.message_id(), r.send_at.to_chrono()))
        .collect();
    waiting::write(&db, watched).await?;
    let last_due = due.last().map_or(now, |(_, at)| *at);
    let api = mailpit.api();
    let all_came = wait_until(last_due + chrono::Duration::seconds(60), || async {
        Ok(mail::count(&api).await? >= WATCHED)
    })
    .await?;
    if !all_came {
        eprintln!("==> not all {WATCHED} watched reminders reached the SMTP server in time");
    }
    let at_smtp = mail::received(&api).await?.into_iter().collect();
    let to_broker = lateness(&due, &tap.arrivals());
    let to_smtp = lateness(&due, &at_smtp);
    eprintln!(
        "==> {waiting} waiting: idle {:.1} % / {:.1} %; to the broker p50 {:.0} p99 {:.0} max {:.0} ms ({} missing); to SMTP p50 {:.0} p99 {:.0} max {:.0} ms ({} missing)",
        idle[0],
        idle[1],
        to_broker.p50_ms,
        to_broker.p99_ms,
        to_broker.max_ms,
        to_broker.missing,
        to_smtp.p50_ms,
        to_smtp.p99_ms,
        to_smtp.max_ms,
        to_smtp.missing,
    );

    let _gone = tap_connection.close(200, "measured".into()).await;
    stop(&mut email_sender).await;
    stop(&mut notifications).await;
    Ok(Row {
        waiting,
        written_in_s,
        idle_notifications_cpu_percent: idle[0],
        idle_database_cpu_percent: idle[1],
        to_broker,
        to_smtp,
    })
}

/// The measurements start from a store at rest: on the local one, PostgreSQL's autovacuum of
/// the rows just written (here or by the row before) otherwise lands in the measured minute at random (seen as a broker p99
/// of 400 ms in one run of four).
fn settle_store() {
    let started = std::time::Instant::now();
    match crate::deps::postgres::vacuum() {
        Ok(()) => eprintln!(
            "==> store vacuumed in {:.1} s",
            started.elapsed().as_secs_f64()
        ),
        Err(error) => eprintln!("==> store not vacuumed ({error:#}); measuring as it is"),
    }
}

/// A burst due within one second, nothing else waiting.
async fn burst() -> anyhow::Result<Burst> {
    RabbitAdmin::local().delete_prefixed(PREFIX).await?;
    let db = fresh_database(DATABASE).await?;
    notifications::store::Store::open(&db, common::config::MongoConfig::local("bench").deadline())
        .await?;
    settle_store();
    let mailpit = PrivateMailpit::start(&["--max", "0"]).await?;
    let mut notifications = notifications_process()?;
    let mut email_sender = email_sender_process(mailpit.smtp_address().1).await?;
    wait_until_reading_ahead().await?;
    let now = Utc::now();
    let second = next_read_minute(now);
    let reminders = (0..BURST)
        .map(|i| {
            let at = second + chrono::Duration::milliseconds(i64::try_from(i % 1000).unwrap_or(0));
            waiting::reminder(&format!("burst{i}@bench.example.com"), at, now)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let ids: HashSet<String> = reminders.iter().map(|r| r.message_id()).collect();
    waiting::write(&db, reminders).await?;
    let api = mailpit.api();
    let parts: [(&'static str, Vec<u32>); 4] = [
        ("notifications", notifications.id().into_iter().collect()),
        ("email-sender", email_sender.id().into_iter().collect()),
        ("database", cpu::database_pids()),
        ("mailpit", cpu::pids_where(|comm| comm == "mailpit")),
    ];
    let before: Vec<f64> = parts
        .iter()
        .map(|(_, pids)| cpu::cpu_seconds(pids))
        .collect();
    let all_came = wait_until(second + chrono::Duration::seconds(300), || async {
        Ok(mail::count(&api).await? >= BURST)
    })
    .await?;
    let cpu_seconds = parts
        .iter()
        .zip(before)
        .map(|((part, pids), before)| (*part, cpu::cpu_seconds(pids) - before))
        .collect();
    if !all_came {
        eprintln!("==> not all {BURST} burst reminders reached the SMTP server within 5 minutes");
    }
    stop(&mut email_sender).await;
    stop(&mut notifications).await;
    let received = mail::received(&api).await?;
    let last = received.iter().map(|(_, at)| *at).max().unwrap_or(second);
    let distinct: HashSet<&String> = received.iter().map(|(id, _)| id).collect();
    let all_at_smtp_s = (last - second).as_seconds_f64();
    eprintln!(
        "==> burst: {} of {BURST} at the SMTP server, the last {all_at_smtp_s:.1} s after they fell due",
        distinct.len()
    );
    let connections = email_sender::config::Config::default().smtp.pool_size;
    let raw = PrivateMailpit::start(&["--max", "0"]).await?;
    let raw_smtp_per_s = mail::raw_rate(raw.smtp_address().1, connections, BURST).await?;
    Ok(Burst {
        reminders: BURST,
        all_at_smtp_s,
        lost: ids.iter().filter(|id| !distinct.contains(id)).count(),
        doubled: received.len() - distinct.len(),
        pipeline_per_s: distinct.len() as f64 / all_at_smtp_s,
        raw_smtp_per_s,
        smtp_connections: connections,
        cpu_seconds,
    })
}

/// The first moment of the minute the scheduler reads ahead next (at second 50 of each
/// minute, the next minute), with ten seconds to spare for writing the reminders.
fn next_read_minute(now: DateTime<Utc>) -> DateTime<Utc> {
    let minute = notifications::domain::Minute::of(now);
    let second = (now - minute.start()).num_seconds();
    if second < 40 {
        minute.next().start()
    } else {
        minute.next().next().start()
    }
}

fn lateness(
    due: &[(String, DateTime<Utc>)],
    arrived: &std::collections::HashMap<String, DateTime<Utc>>,
) -> Lateness {
    let mut late: Vec<f64> = due
        .iter()
        .filter_map(|(id, at)| {
            arrived
                .get(id)
                .map(|came| (*came - *at).as_seconds_f64() * 1000.0)
        })
        .collect();
    late.sort_by(f64::total_cmp);
    let at = |q: f64| {
        late.get(((late.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(f64::NAN)
    };
    Lateness {
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: late.last().copied().unwrap_or(f64::NAN),
        missing: due.len() - late.len(),
    }
}

fn notifications_process() -> anyhow::Result<Child> {
    start(
        "notifications",
        &[
            ("EVENTPOST_NOTIFICATIONS__ROLE", "all".into()),
            (
                "EVENTPOST_NOTIFICATIONS__HTTP__PORT",
                SCHEDULER_PORT.to_string(),
            ),
            ("EVENTPOST_NOTIFICATIONS__MONGO__DATABASE", DATABASE.into()),
            ("EVENTPOST_NOTIFICATIONS__AMQP__PREFIX", PREFIX.into()),
        ],
    )
}

async fn email_sender_process(smtp_port: u16) -> anyhow::Result<Child> {
    fresh_database(EMAIL_DATABASE).await?;
    let child = start(
        "email-sender",
        &[
            (
                "EVENTPOST_EMAIL_SENDER__HTTP__PORT",
                EMAIL_SENDER_PORT.to_string(),
            ),
            (
                "EVENTPOST_EMAIL_SENDER__MONGO__DATABASE",
                EMAIL_DATABASE.into(),
            ),
            ("EVENTPOST_EMAIL_SENDER__AMQP__PREFIX", PREFIX.into()),
            ("EVENTPOST_EMAIL_SENDER__SMTP__PORT", smtp_port.to_string()),
        ],
    )?;
    super::services::wait_ready(&format!("http://127.0.0.1:{EMAIL_SENDER_PORT}/readyz")).await?;
    Ok(child)
}

/// Waits until the scheduler has caught up and read ahead once (a range read at start over
/// every waiting reminder, on the local store a while at a million).
async fn wait_until_reading_ahead() -> anyhow::Result<()> {
    let metrics = format!("http://127.0.0.1:{SCHEDULER_PORT}/metrics");
    let started = wait_until(Utc::now() + chrono::Duration::seconds(600), || async {
        let Ok(answer) = reqwest::get(&metrics).await else {
            return Ok(false);
        };
        let text = answer.text().await?;
        Ok(text
            .lines()
            .filter(|line| line.starts_with("eventpost_scheduler_read_aheads_total"))
            .any(|line| line.rsplit(' ').next().is_some_and(|n| n != "0")))
    })
    .await?;
    anyhow::ensure!(
        started,
        "the scheduler did not read ahead within 10 minutes of starting"
    );
    Ok(())
}

/// Polls `done` every 100 ms until it holds (true) or `deadline` passes (false).
async fn wait_until<F, Fut>(deadline: DateTime<Utc>, mut done: F) -> anyhow::Result<bool>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    while Utc::now() < deadline {
        if done().await? {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(false)
}

async fn stop(child: &mut Child) {
    let _already_gone = child.kill().await;
}

fn print(rows: &[Row], burst: &Burst) {
    println!(
        "\nscheduler, nothing due for 60 s, then {WATCHED} reminders falling due over a minute:"
    );
    println!(
        "| waiting | idle CPU notifications / database | to the broker p50 / p99 / max ms | to SMTP p50 / p99 / max ms | missing |"
    );
    for row in rows {
        println!(
            "| {} | {:.1} % / {:.1} % | {:.0} / {:.0} / {:.0} | {:.0} / {:.0} / {:.0} | {} |",
            row.waiting,
            row.idle_notifications_cpu_percent,
            row.idle_database_cpu_percent,
            row.to_broker.p50_ms,
            row.to_broker.p99_ms,
            row.to_broker.max_ms,
            row.to_smtp.p50_ms,
            row.to_smtp.p99_ms,
            row.to_smtp.max_ms,
            row.to_smtp.missing.max(row.to_broker.missing),
        );
    }
    println!(
        "\nburst: {} reminders due in one second at the SMTP server in {:.1} s ({:.0}/s; lettre alone {:.0}/s over {} connections, {:.0} %), {} lost, {} doubled",
        burst.reminders,
        burst.all_at_smtp_s,
        burst.pipeline_per_s,
        burst.raw_smtp_per_s,
        burst.smtp_connections,
        burst.pipeline_per_s / burst.raw_smtp_per_s * 100.0,
        burst.lost,
        burst.doubled,
    );
    println!("CPU seconds meanwhile: {:?}", burst.cpu_seconds);
}
