//! The faults, one scenario each, every one asserting what users see and that nothing is lost.
//! The scenarios unit-tested elsewhere in one service (the email-sender's SMTP outage and killed
//! worker, the events and notifications services' paused database, a killed scheduler) are
//! taken here to the whole platform in its own processes.

use std::{collections::HashMap, time::Duration};

use anyhow::ensure;
use chrono::Utc;
use common::{idempotency, testing};
use futures::{StreamExt, stream::FuturesUnordered};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::time::{Instant, sleep};

use super::faults::{self, DatabasePart};
use crate::{
    backup,
    platform::{Service, Stack},
};

/// The services that hold connections to the broker and the database.
const BACKENDS: [Service; 5] = [
    Service::Users,
    Service::Events,
    Service::NotificationsApi,
    Service::Scheduler,
    Service::EmailSender,
];

/// The store's deadline (5 s) and some slack for a loaded machine.
const ANSWER_WITHIN: Duration = Duration::from_secs(8);

/// The reminders a stream of creations had confirmed (201), and how many it never got
/// confirmed within its retries.
struct Created {
    confirmed: Vec<String>,
    unconfirmed: usize,
}

/// A reminder created every `every` for `lasting`, each due `due_in` after it is asked for,
/// each retried with its idempotency key until the platform confirms it.
async fn reminder_stream(
    stack: &Stack,
    event: &str,
    lasting: Duration,
    every: Duration,
    due_in: Duration,
) -> anyhow::Result<Created> {
    let stop_at = Instant::now() + lasting;
    let mut pending = FuturesUnordered::new();
    let mut created = Created {
        confirmed: Vec::new(),
        unconfirmed: 0,
    };
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick(), if Instant::now() < stop_at => {
                let send_at = Utc::now() + chrono::Duration::from_std(due_in)?;
                pending.push(stack.reminder(event, send_at, Duration::from_secs(90)));
            }
            Some(outcome) = pending.next() => match outcome? {
                Some(id) => created.confirmed.push(id),
                None => created.unconfirmed += 1,
            },
            else => break,
        }
        if Instant::now() >= stop_at && pending.is_empty() {
            break;
        }
    }
    Ok(created)
}

/// Every reminder mailed exactly once.
fn each_once(counts: &HashMap<String, usize>, ids: &[String]) -> anyhow::Result<()> {
    let doubled: Vec<_> = ids
        .iter()
        .filter(|id| counts.get(*id).copied().unwrap_or(0) != 1)
        .collect();
    ensure!(doubled.is_empty(), "mailed other than once: {doubled:?}");
    Ok(())
}

/// Waits until `service`'s readiness answers `status`.
async fn readiness_becomes(
    stack: &Stack,
    service: Service,
    status: StatusCode,
    limit: Duration,
) -> anyhow::Result<()> {
    testing::eventually(
        limit,
        &format!("{service:?} readiness {status}"),
        || async { Ok((stack.readiness(service).await == Some(status)).then_some(())) },
    )
    .await
}

/// RabbitMQ stopped for 30 s during a stream of creations and due reminders.
pub async fn broker_outage() -> anyhow::Result<()> {
    let stack = Stack::start("chaos_broker").await?;
    let event = stack.event("Broker outage").await?;
    let outage = async {
        sleep(Duration::from_secs(5)).await;
        faults::stop_broker()?;
        let down = Instant::now();
        for service in BACKENDS {
            readiness_becomes(
                &stack,
                service,
                StatusCode::SERVICE_UNAVAILABLE,
                ANSWER_WITHIN,
            )
            .await?;
        }
        sleep(Duration::from_secs(30).saturating_sub(down.elapsed())).await;
        faults::start_broker().await?;
        // Every service reconnects by itself: none is restarted.
        stack.wait_all_ready(Duration::from_secs(60)).await
    };
    let (created, outage) = tokio::join!(
        reminder_stream(
            &stack,
            &event,
            Duration::from_secs(45),
            Duration::from_millis(500),
            Duration::from_secs(3),
        ),
        outage
    );
    outage?;
    let created = created?;
    ensure!(
        created.unconfirmed == 0,
        "{} creations never confirmed after the broker came back",
        created.unconfirmed
    );
    let counts = stack
        .wait_until_sent(&created.confirmed, Duration::from_secs(120))
        .await?;
    each_once(&counts, &created.confirmed)?;
    eprintln!(
        "    {} reminders created across the outage, each mailed once",
        created.confirmed.len()
    );
    stack.cleanup().await
}

/// The database paused (FerretDB, then PostgreSQL) and resumed, then stopped and restarted.
pub async fn database_outage() -> anyhow::Result<()> {
    if !faults::database_is_ours() {
        eprintln!("    skipped: the database server is not one this runner started");
        return Ok(());
    }
    let stack = Stack::start("chaos_database").await?;
    let event = stack.event("Database outage").await?;
    let mut reminders = Vec::new();
    for _ in 0..3 {
        let send_at = Utc::now() + chrono::Duration::seconds(10);
        reminders.extend(stack.reminder(&event, send_at, ANSWER_WITHIN).await?);
    }
    for part in [DatabasePart::Front, DatabasePart::Storage] {
        faults::pause_database(part)?;
        let outcome = while_database_is_away(&stack, &event, part).await;
        faults::resume_database()?;
        let refused = outcome?;
        reminders.push(created_once_retried(&stack, &refused).await?);
    }
    faults::stop_database()?;
    let outcome = while_database_is_away(&stack, &event, DatabasePart::Front).await;
    faults::start_database().await?;
    let refused = outcome?;
    reminders.push(created_once_retried(&stack, &refused).await?);
    // Recovered without a restart.
    stack.wait_all_ready(Duration::from_secs(60)).await?;
    let counts = stack
        .wait_until_sent(&reminders, Duration::from_secs(120))
        .await?;
    each_once(&counts, &reminders)?;
    stack.cleanup().await
}

/// What users see with the database away: catalogue reads answer from memory, reminder reads
/// and writes are 503 problem+json within the deadline. Returns the idempotency key and body of
/// a creation that was refused, for the retry after.
async fn while_database_is_away(
    stack: &Stack,
    event: &str,
    part: DatabasePart,
) -> anyhow::Result<(String, Value)> {
    let search = stack
        .call(Method::GET, "/api/v1/events?limit=5", None, None)
        .await?;
    ensure!(
        search.status() == StatusCode::OK,
        "the catalogue with the {part:?} away: {}",
        search.status()
    );
    let started = Instant::now();
    let list = stack
        .call(
            Method::GET,
            "/api/v1/notifications",
            Some(&stack.user),
            None,
        )
        .await?;
    expect_unavailable(list, started, "listing reminders").await?;
    let key = testing::unique_name("chaos_retry");
    let started = Instant::now();
    let body = json!({ "event_id": event, "send_at": (Utc::now() + chrono::Duration::seconds(15)).to_rfc3339() });
    let create = stack
        .call_at(
            &stack.gateway(),
            Method::POST,
            "/api/v1/notifications",
            Some(&stack.user),
            Some(&body),
            Some(&key),
        )
        .await?;
    expect_unavailable(create, started, "creating a reminder").await?;
    Ok((key, body))
}

async fn expect_unavailable(
    answer: reqwest::Response,
    started: Instant,
    what: &str,
) -> anyhow::Result<()> {
    let took = started.elapsed();
    let status = answer.status();
    let kind = answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    ensure!(
        status == StatusCode::SERVICE_UNAVAILABLE && kind.starts_with("application/problem+json"),
        "{what} with the database away: {status} {kind} {}",
        answer.text().await?
    );
    ensure!(took <= ANSWER_WITHIN, "{what} answered after {took:?}");
    Ok(())
}

/// A creation refused with the database away, retried with its key once it is back: nothing
/// half-written stays, exactly one reminder results.
async fn created_once_retried(
    stack: &Stack,
    (key, body): &(String, Value),
) -> anyhow::Result<String> {
    let before = stack.reminder_ids().await?;
    let id = testing::eventually(Duration::from_secs(30), "the retried creation", || async {
        let answer = stack
            .call_at(
                &stack.gateway(),
                Method::POST,
                "/api/v1/notifications",
                Some(&stack.user),
                Some(body),
                Some(key),
            )
            .await?;
        if answer.status() != StatusCode::CREATED {
            return Ok(None);
        }
        let created: Value = answer.json().await?;
        Ok(created["id"].as_str().map(str::to_owned))
    })
    .await?;
    let after = stack.reminder_ids().await?;
    let new: Vec<_> = after.iter().filter(|id| !before.contains(id)).collect();
    ensure!(
        new == [&id],
        "one reminder from the retried key, not {new:?}"
    );
    Ok(id)
}

/// Mailpit stopped for 60 s: reminders wait, then arrive once.
pub async fn smtp_outage() -> anyhow::Result<()> {
    let mut stack = Stack::start("chaos_smtp").await?;
    let event = stack.event("SMTP outage").await?;
    stack.mailpit.stop().await?;
    let down = Instant::now();
    let mut reminders = Vec::new();
    for n in 0..5 {
        let send_at = Utc::now() + chrono::Duration::seconds(2 + n);
        reminders.extend(stack.reminder(&event, send_at, ANSWER_WITHIN).await?);
    }
    readiness_becomes(
        &stack,
        Service::EmailSender,
        StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(30),
    )
    .await?;
    // The outage lasts its minute whatever the checks above took.
    sleep(Duration::from_secs(60).saturating_sub(down.elapsed())).await;
    for id in &reminders {
        let status = stack.reminder_status(id).await?;
        ensure!(status == "queued", "{id} is {status} during the outage");
    }
    stack.mailpit.resume().await?;
    let counts = stack
        .wait_until_sent(&reminders, Duration::from_secs(60))
        .await?;
    each_once(&counts, &reminders)?;
    stack.cleanup().await
}

/// Each service killed with SIGKILL and restarted in the middle of load.
pub async fn killed_services() -> anyhow::Result<()> {
    let stack = Stack::start("chaos_kill").await?;
    let event = stack.event("Killed services").await?;
    let kills = async {
        // The kills begin as the first reminders are about to fall due, so the later ones
        // land while they do.
        sleep(Duration::from_secs(10)).await;
        for service in Service::ALL {
            sleep(Duration::from_secs(2)).await;
            stack.kill(service).await?;
            sleep(Duration::from_millis(500)).await;
            stack.restart(service).await?;
        }
        anyhow::Ok(())
    };
    // A creation the kill of notifications cuts off leaves its idempotency key held for
    // `HELD_FOR`, and its retries are told 409 until then: the reminder must still be in the
    // future when one takes the key over, or it is rightly refused (due 20 s after it was
    // asked for, a run fails with a 422 whenever a creation is in flight at that kill).
    let due_in = idempotency::HELD_FOR.to_std()? + Duration::from_secs(15);
    let (created, kills) = tokio::join!(
        reminder_stream(
            &stack,
            &event,
            Duration::from_secs(40),
            Duration::from_millis(250),
            due_in,
        ),
        kills
    );
    kills?;
    let created = created?;
    ensure!(
        created.unconfirmed == 0,
        "{} creations never confirmed",
        created.unconfirmed
    );
    // None stays queued: the leases pass a killed scheduler's or worker's claims on.
    let counts = stack
        .wait_until_sent(&created.confirmed, Duration::from_secs(150))
        .await?;
    let doubles: usize = created
        .confirmed
        .iter()
        .map(|id| counts[id].saturating_sub(1))
        .sum();
    // Only what the killed email-sender had handed to the SMTP server may go again: at most
    // its connection pool's worth.
    ensure!(doubles <= 20, "{doubles} mails went twice");
    eprintln!(
        "    {} reminders through six kills, {doubles} mailed twice",
        created.confirmed.len()
    );
    stack.cleanup().await
}

/// Reminders whose time passed while everything was down are sent on start-up.
pub async fn catch_up_after_downtime() -> anyhow::Result<()> {
    let stack = Stack::start("chaos_catchup").await?;
    let event = stack.event("Everything down").await?;
    let mut reminders = Vec::new();
    for n in 0..5 {
        let send_at = Utc::now() + chrono::Duration::seconds(8 + n);
        reminders.extend(stack.reminder(&event, send_at, ANSWER_WITHIN).await?);
    }
    for service in Service::ALL.into_iter().rev() {
        stack.kill(service).await?;
    }
    // Down until well after the last one's time.
    sleep(Duration::from_secs(16)).await;
    ensure!(
        stack.mails_per_reminder().await?.is_empty(),
        "mailed while everything was down"
    );
    for service in Service::ALL {
        stack.restart(service).await?;
    }
    let counts = stack
        .wait_until_sent(&reminders, Duration::from_secs(60))
        .await?;
    each_once(&counts, &reminders)?;
    stack.cleanup().await
}

/// SIGTERM during load: requests in flight complete, deliveries in flight are acked or
/// redelivered, none is lost or doubled.
pub async fn terminated_under_load() -> anyhow::Result<()> {
    let stack = Stack::start("chaos_sigterm").await?;
    let event = stack.event("Terminated").await?;
    for service in [Service::NotificationsApi, Service::Events] {
        requests_in_flight_complete(&stack, service).await?;
        stack.restart(service).await?;
    }

    let send_at = Utc::now() + chrono::Duration::seconds(4);
    let mut reminders = Vec::new();
    for _ in 0..30 {
        reminders.extend(stack.reminder(&event, send_at, ANSWER_WITHIN).await?);
    }
    testing::eventually(Duration::from_secs(30), "the first mails", || async {
        Ok((!stack.mails_per_reminder().await?.is_empty()).then_some(()))
    })
    .await?;
    stack
        .terminate(Service::EmailSender, Duration::from_secs(20))
        .await?;
    stack.restart(Service::EmailSender).await?;
    let counts = stack
        .wait_until_sent(&reminders, Duration::from_secs(60))
        .await?;
    each_once(&counts, &reminders)?;
    stack.cleanup().await
}

/// Fifty requests straight to `service`, SIGTERM while they run: each either completes with
/// success or was never taken (its connection refused); none is cut off.
async fn requests_in_flight_complete(stack: &Stack, service: Service) -> anyhow::Result<()> {
    let path = match service {
        Service::Events => "/api/v1/events?q=music&limit=50",
        _ => "/api/v1/notifications?limit=50",
    };
    let base = stack.url(service);
    let requests: FuturesUnordered<_> = (0..50)
        .map(|_| stack.call_at(&base, Method::GET, path, Some(&stack.user), None, None))
        .collect();
    let (answers, stopped) = tokio::join!(requests.collect::<Vec<_>>(), async {
        sleep(Duration::from_millis(20)).await;
        stack.terminate(service, Duration::from_secs(20)).await
    });
    stopped?;
    let mut completed = 0;
    for answer in answers {
        match answer {
            Ok(answer) => {
                ensure!(
                    answer.status().is_success(),
                    "{service:?} answered {} while stopping",
                    answer.status()
                );
                answer.bytes().await?;
                completed += 1;
            }
            Err(refused)
                if refused
                    .downcast_ref::<reqwest::Error>()
                    .is_some_and(reqwest::Error::is_connect) => {}
            Err(cut) => anyhow::bail!("a request to {service:?} was cut off: {cut:#}"),
        }
    }
    ensure!(
        completed > 0,
        "no request reached {service:?} before it stopped"
    );
    eprintln!(
        "    {service:?}: {completed} of 50 requests completed while it stopped, none cut off"
    );
    Ok(())
}

/// Two replicas of every service behind the gateway, each instance in turn stopped (SIGTERM:
/// it turns unready, the gateway stops routing to it, it drains) and started again while
/// requests and reminders keep coming: no request fails, no reminder is lost or mailed twice.
/// A rolling upgrade behind the load balancer is this, host by host.
pub async fn rolling_restart() -> anyhow::Result<()> {
    let stack = Stack::start_replicated("chaos_rolling", 2).await?;
    let event = stack.event("Rolling restart").await?;
    let rolled = tokio::sync::Notify::new();
    let rolling = async {
        let outcome = async {
            sleep(Duration::from_secs(3)).await;
            for instance in stack.instances() {
                if instance.service == Service::Gateway {
                    continue;
                }
                stack
                    .terminate_instance(instance, Duration::from_secs(20))
                    .await?;
                stack.restart_instance(instance).await?;
                // The gateway's health check (every second) sees it ready again before its
                // twin stops.
                sleep(Duration::from_secs(2)).await;
            }
            anyhow::Ok(())
        }
        .await;
        rolled.notify_one();
        outcome
    };
    let (load, rolling) = tokio::join!(steady_load(&stack, &event, &rolled), rolling);
    rolling?;
    let load = load?;
    ensure!(
        load.failures.is_empty(),
        "{} of {} requests failed during the rolling restart: {:?}",
        load.failures.len(),
        load.requests,
        load.failures.iter().take(10).collect::<Vec<_>>()
    );
    let counts = stack
        .wait_until_sent(&load.reminders, Duration::from_secs(120))
        .await?;
    each_once(&counts, &load.reminders)?;
    eprintln!(
        "    {} requests through {} restarts, none failed; {} reminders mailed once each",
        load.requests,
        stack.instances().len() - 1,
        load.reminders.len()
    );
    stack.cleanup().await
}

/// What a steady load saw.
struct Load {
    requests: usize,
    /// Each failed request: what it was and what came back.
    failures: Vec<String>,
    /// The reminders it created, each due 15 s after it was asked for.
    reminders: Vec<String>,
}

/// Ten requests a second through the gateway, each asked once (no retry), until `done`: the
/// catalogue, the user's profile and reminders, and every third a new reminder.
async fn steady_load(
    stack: &Stack,
    event: &str,
    done: &tokio::sync::Notify,
) -> anyhow::Result<Load> {
    let mut load = Load {
        requests: 0,
        failures: Vec::new(),
        reminders: Vec::new(),
    };
    let mut pending = FuturesUnordered::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut stopping = false;
    let reminder_body = |event: &str| {
        let send_at = Utc::now() + chrono::Duration::seconds(15);
        json!({ "event_id": event, "send_at": send_at.to_rfc3339() })
    };
    loop {
        tokio::select! {
            _ = tick.tick(), if !stopping => {
                let (method, path, body) = match load.requests % 4 {
                    0 => (Method::GET, "/api/v1/events?q=music&limit=5", None),
                    1 => (Method::GET, "/api/v1/users/me", None),
                    2 => (Method::GET, "/api/v1/notifications?limit=5", None),
                    _ => (Method::POST, "/api/v1/notifications", Some(reminder_body(event))),
                };
                load.requests += 1;
                pending.push(async move {
                    let answer = stack.call(method.clone(), path, Some(&stack.user), body.as_ref()).await;
                    (method, path, answer)
                });
            }
            () = done.notified(), if !stopping => stopping = true,
            Some((method, path, answer)) = pending.next() => match answer {
                Ok(answer) if answer.status().is_success() => {
                    if method == Method::POST {
                        let created: Value = answer.json().await?;
                        load.reminders.extend(created["id"].as_str().map(str::to_owned));
                    }
                }
                Ok(answer) => {
                    let status = answer.status();
                    let body = answer.text().await.unwrap_or_default();
                    load.failures.push(format!("{method} {path}: {status} {body}"));
                }
                Err(err) => load.failures.push(format!("{method} {path}: {err:#}")),
            },
            else => break,
        }
        if stopping && pending.is_empty() {
            break;
        }
    }
    Ok(load)
}

/// The databases dumped (`cargo task backup`'s way), more written and a reminder mailed, then
/// everything stopped, the dump restored and everything started: the API serves what it served
/// at the backup, and the reminder mailed since is recorded sent without a second mail (the
/// email-sender's deliveries are not part of a backup).
pub async fn backup_and_restore() -> anyhow::Result<()> {
    let stack = Stack::start("chaos_restore").await?;
    let kept = stack.event("Before the backup").await?;
    let saved = stack
        .call(
            Method::PUT,
            &format!("/api/v1/events/{kept}/saved"),
            Some(&stack.user),
            None,
        )
        .await?;
    ensure!(saved.status().is_success(), "saving: {}", saved.status());
    let send_at = Utc::now() + chrono::Duration::seconds(10);
    let reminder = stack
        .reminder(&kept, send_at, ANSWER_WITHIN)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the reminder was not created"))?;
    let reminders = [reminder.clone()];

    let dump = std::env::temp_dir().join(testing::unique_name("eventpost-backup"));
    for service in BACKED_UP {
        let db = stack.database(service).await?;
        backup::dump(&db, &dump).await?;
        db.client().clone().shutdown().await;
    }
    let lost = stack.event("After the backup").await?;
    let counts = stack
        .wait_until_sent(&reminders, Duration::from_secs(60))
        .await?;
    each_once(&counts, &reminders)?;

    stack.kill_all().await?;
    for service in BACKED_UP {
        let db = stack.database(service).await?;
        backup::restore(&db, &dump).await?;
        db.client().clone().shutdown().await;
    }
    std::fs::remove_dir_all(&dump)?;
    stack.start_all().await?;

    let platform = &stack;
    let status = |path: String| async move {
        anyhow::Ok(
            platform
                .call(Method::GET, &path, Some(&platform.user), None)
                .await?
                .status(),
        )
    };
    ensure!(
        status(format!("/api/v1/events/{kept}")).await? == StatusCode::OK,
        "the event from before the backup is back"
    );
    ensure!(
        status(format!("/api/v1/events/{lost}")).await? == StatusCode::NOT_FOUND,
        "the event from after the backup is gone with the restore"
    );
    let saved: Value = stack
        .call(Method::GET, "/api/v1/events/saved", Some(&stack.user), None)
        .await?
        .json()
        .await?;
    ensure!(
        saved["items"][0]["id"] == kept.as_str(),
        "the saved event is saved again: {saved}"
    );
    // Restored as it was at the backup, scheduled and past due: sent again to the
    // email-sender, which knows it delivered that message.
    testing::eventually(
        Duration::from_secs(60),
        "the restored reminder sent",
        || async { Ok((stack.reminder_status(&reminder).await? == "sent").then_some(())) },
    )
    .await?;
    each_once(&stack.mails_per_reminder().await?, &reminders)?;
    eprintln!(
        "    restored: the backup's event and save, not the later event; the reminder mailed since not mailed again"
    );
    stack.cleanup().await
}

/// What a backup holds: every database but the email-sender's.
const BACKED_UP: [Service; 3] = [Service::Users, Service::Events, Service::NotificationsApi];
