//! The whole platform as real processes (the debug builds), each on a port of its own, on
//! databases and broker names of its own and a private Mailpit, so the chaos scenarios can
//! kill, stop and restart any part and then check what users see, and the fuzzer can try
//! every route as a user and as an administrator. A stack may run several replicas of every
//! service but the gateway, as several app hosts would.

use std::{collections::HashMap, path::PathBuf, process::Stdio, sync::Mutex, time::Duration};

use anyhow::{Context, bail};
use common::testing::{self, PrivateMailpit};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::{deps, process, workspace};

const PASSWORD: &str = "a platform of its own";

/// The email-sender's waits between tries: a little over a minute and a half in all, so mail
/// outlives the 60-second SMTP outage without the scenarios waiting for hours.
const RETRY_DELAYS: &str =
    r#"["1s","2s","4s","8s","10s","10s","10s","10s","10s","10s","10s","10s"]"#;

/// One process of the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    Users,
    Events,
    NotificationsApi,
    Scheduler,
    EmailSender,
    Gateway,
}

impl Service {
    /// In start order: what a service calls at start comes before it.
    pub const ALL: [Self; 6] = [
        Self::Users,
        Self::Events,
        Self::NotificationsApi,
        Self::Scheduler,
        Self::EmailSender,
        Self::Gateway,
    ];

    pub fn binary(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Events => "events",
            Self::NotificationsApi | Self::Scheduler => "notifications",
            Self::EmailSender => "email-sender",
            Self::Gateway => "gateway",
        }
    }

    fn env_prefix(self) -> &'static str {
        match self {
            Self::Users => "EVENTPOST_USERS__",
            Self::Events => "EVENTPOST_EVENTS__",
            Self::NotificationsApi | Self::Scheduler => "EVENTPOST_NOTIFICATIONS__",
            Self::EmailSender => "EVENTPOST_EMAIL_SENDER__",
            Self::Gateway => "EVENTPOST_GATEWAY__",
        }
    }

    /// Its database, if it has one (the scheduler shares the notifications service's).
    fn database(self) -> Option<&'static str> {
        match self {
            Self::Users => Some("users"),
            Self::Events => Some("events"),
            Self::NotificationsApi | Self::Scheduler => Some("notifications"),
            Self::EmailSender => Some("email_sender"),
            Self::Gateway => None,
        }
    }
}

/// One process: a service, and which of its replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Instance {
    pub service: Service,
    pub replica: usize,
}

impl Instance {
    /// The first replica of `service`, the one a stack of one replica each runs.
    pub fn first(service: Service) -> Self {
        Self {
            service,
            replica: 0,
        }
    }
}

/// A running platform; its processes die with it.
pub struct Stack {
    purpose: String,
    name: String,
    /// Replicas of every service but the gateway (one).
    replicas: usize,
    ports: HashMap<Instance, u16>,
    children: Mutex<HashMap<Instance, Child>>,
    pub mailpit: PrivateMailpit,
    pub http: reqwest::Client,
    pub admin: String,
    pub user: String,
}

impl Stack {
    /// Starts every service and signs in an administrator and a user with a verified address.
    pub async fn start(purpose: &str) -> anyhow::Result<Self> {
        Self::start_replicated(purpose, 1).await
    }

    /// [`Stack::start`] with `replicas` of every service but the gateway, which shares the
    /// requests between them. The services then reach each other, and the signing keys,
    /// through the gateway too, so that none depends on one replica of another.
    pub async fn start_replicated(purpose: &str, replicas: usize) -> anyhow::Result<Self> {
        let mailpit = PrivateMailpit::start(&[]).await?;
        let mut ports = HashMap::new();
        for service in Service::ALL {
            for replica in 0..replicas_of(service, replicas) {
                ports.insert(Instance { service, replica }, free_port()?);
            }
        }
        let mut stack = Self {
            purpose: purpose.to_owned(),
            name: testing::unique_name(&format!("test_{purpose}")),
            replicas,
            ports,
            children: Mutex::default(),
            mailpit,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()?,
            admin: String::new(),
            user: String::new(),
        };
        for instance in stack.instances() {
            stack.launch(instance)?;
        }
        stack.wait_all_ready(Duration::from_secs(60)).await?;
        let admin_email = stack.admin_email();
        stack.admin = stack.sign_up(&admin_email).await?;
        let user_email = format!("{}@example.com", testing::unique_name("platform_user"));
        stack.user = stack.sign_up(&user_email).await?;
        Ok(stack)
    }

    pub fn gateway(&self) -> String {
        self.url(Service::Gateway)
    }

    /// The first replica of `service`.
    pub fn url(&self, service: Service) -> String {
        self.url_of(Instance::first(service))
    }

    pub fn url_of(&self, instance: Instance) -> String {
        format!("http://127.0.0.1:{}", self.ports[&instance])
    }

    /// Every process, in start order.
    pub fn instances(&self) -> Vec<Instance> {
        Service::ALL
            .into_iter()
            .flat_map(|service| {
                (0..replicas_of(service, self.replicas))
                    .map(move |replica| Instance { service, replica })
            })
            .collect()
    }

    /// Where the services find one another (and the signing keys): the first replica's own
    /// address in a stack of one each, the gateway in a replicated one.
    fn address_of(&self, service: Service) -> String {
        if self.replicas > 1 {
            self.gateway()
        } else {
            self.url(service)
        }
    }

    fn admin_email(&self) -> String {
        format!("admin-{}@example.com", self.name.replace('_', "-"))
    }

    fn database_name(&self, service: Service) -> Option<String> {
        service.database().map(|db| format!("{}_{db}", self.name))
    }

    fn launch(&self, instance: Instance) -> anyhow::Result<()> {
        let service = instance.service;
        let prefix = service.env_prefix();
        let port = self.ports[&instance];
        let users = self.address_of(Service::Users);
        let jwks = format!("{users}/.well-known/jwks.json");
        let mut env: Vec<(String, String)> = vec![
            ("HTTP__PORT".into(), port.to_string()),
            // Twice the gateway's health interval (below): it stops routing here in time.
            ("HTTP__SHUTDOWN_DRAIN".into(), "2s".into()),
            ("AMQP__PREFIX".into(), format!("{}.", self.name)),
            ("AUTH__JWKS_URL".into(), jwks),
        ];
        if let Some(database) = self.database_name(service) {
            env.push(("MONGO__DATABASE".into(), database));
        }
        match service {
            Service::Users => {
                let key = deps::signing_key::ensure()?;
                env.extend([
                    ("TOKENS__SIGNING_KEY_FILE".into(), key.display().to_string()),
                    ("LOGIN_ATTEMPTS_PER_CLIENT".into(), "1000000".into()),
                    (
                        "ADMIN_EMAILS".into(),
                        format!("[\"{}\"]", self.admin_email()),
                    ),
                ]);
            }
            Service::Events => {}
            Service::NotificationsApi | Service::Scheduler => {
                let role = if service == Service::Scheduler {
                    "scheduler"
                } else {
                    "api"
                };
                env.extend([
                    ("ROLE".into(), role.into()),
                    ("USERS_URL".into(), users),
                    ("EVENTS_URL".into(), self.address_of(Service::Events)),
                    // A dead scheduler's claims are taken over within seconds, not minutes.
                    ("SCHEDULER__LEASE".into(), "10s".into()),
                    ("SCHEDULER__CHECK_EVERY".into(), "1s".into()),
                    ("SCHEDULER__RESULT_TIMEOUT".into(), "3m".into()),
                ]);
            }
            Service::EmailSender => {
                let (host, smtp_port) = self.mailpit.smtp_address();
                env.extend([
                    ("SMTP__HOST".into(), host),
                    ("SMTP__PORT".into(), smtp_port.to_string()),
                    // The send lease is a multiple of it: a killed worker's claims pass on soon.
                    ("SMTP__TIMEOUT".into(), "2s".into()),
                    ("WORKER__RETRY_DELAYS".into(), RETRY_DELAYS.into()),
                ]);
            }
            Service::Gateway => {
                let upstream = |service: Service| {
                    let urls: Vec<String> = (0..self.replicas)
                        .map(|replica| format!("{}/", self.url_of(Instance { service, replica })))
                        .collect();
                    serde_json::to_string(&urls).unwrap_or_default()
                };
                env.extend([
                    ("UPSTREAMS__USERS".into(), upstream(Service::Users)),
                    ("UPSTREAMS__EVENTS".into(), upstream(Service::Events)),
                    (
                        "UPSTREAMS__NOTIFICATIONS".into(),
                        upstream(Service::NotificationsApi),
                    ),
                    ("UPSTREAMS__HEALTH_INTERVAL".into(), "1s".into()),
                    ("LIMITS__PER_CLIENT_PER_MINUTE".into(), "100000000".into()),
                    (
                        "LIMITS__TOKEN_PER_CLIENT_PER_MINUTE".into(),
                        "100000000".into(),
                    ),
                    ("LIMITS__PER_USER_PER_MINUTE".into(), "100000000".into()),
                ]);
            }
        }
        let logs = workspace::run_dir().join("logs");
        std::fs::create_dir_all(&logs)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(logs.join(format!(
                "{}-{service:?}{}.log",
                self.purpose,
                match instance.replica {
                    0 => String::new(),
                    replica => format!("-{replica}"),
                }
            )))?;
        let child = Command::new(binary(service.binary()))
            .envs(env.iter().map(|(k, v)| (format!("{prefix}{k}"), v)))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {instance:?}"))?;
        self.processes().insert(instance, child);
        Ok(())
    }

    /// SIGKILL: no goodbye, as a crash or an out-of-memory kill.
    pub async fn kill(&self, service: Service) -> anyhow::Result<()> {
        self.kill_instance(Instance::first(service)).await
    }

    async fn kill_instance(&self, instance: Instance) -> anyhow::Result<()> {
        let child = self.processes().remove(&instance);
        if let Some(mut child) = child {
            child.kill().await?;
        }
        Ok(())
    }

    /// SIGTERM, then waits for the process to exit by itself (at most `limit`).
    pub async fn terminate(&self, service: Service, limit: Duration) -> anyhow::Result<()> {
        self.terminate_instance(Instance::first(service), limit)
            .await
    }

    pub async fn terminate_instance(
        &self,
        instance: Instance,
        limit: Duration,
    ) -> anyhow::Result<()> {
        let service = instance.service;
        let child = self.processes().remove(&instance);
        let Some(mut child) = child else {
            return Ok(());
        };
        signal(child.id(), "TERM")?;
        match tokio::time::timeout(limit, child.wait()).await {
            Ok(status) => {
                let status = status?;
                anyhow::ensure!(status.success(), "{service:?} exited with {status}");
                Ok(())
            }
            Err(_) => {
                child.kill().await?;
                bail!("{service:?} did not stop within {limit:?} of SIGTERM")
            }
        }
    }

    /// SIGKILLs every process.
    pub async fn kill_all(&self) -> anyhow::Result<()> {
        for instance in self.instances() {
            self.kill_instance(instance).await?;
        }
        Ok(())
    }

    /// Starts every process again and waits until all are ready.
    pub async fn start_all(&self) -> anyhow::Result<()> {
        for instance in self.instances() {
            self.launch(instance)?;
        }
        self.wait_all_ready(Duration::from_secs(60)).await
    }

    /// Starts `service` again (on its port, database and queues) and waits until it is ready.
    pub async fn restart(&self, service: Service) -> anyhow::Result<()> {
        self.restart_instance(Instance::first(service)).await
    }

    pub async fn restart_instance(&self, instance: Instance) -> anyhow::Result<()> {
        self.launch(instance)?;
        self.wait_instance_ready(instance, Duration::from_secs(60))
            .await
    }

    fn processes(&self) -> std::sync::MutexGuard<'_, HashMap<Instance, Child>> {
        self.children
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub async fn wait_all_ready(&self, limit: Duration) -> anyhow::Result<()> {
        for instance in self.instances() {
            self.wait_instance_ready(instance, limit).await?;
        }
        Ok(())
    }

    async fn wait_instance_ready(&self, instance: Instance, limit: Duration) -> anyhow::Result<()> {
        let url = format!("{}/readyz", self.url_of(instance));
        testing::eventually(limit, &format!("{instance:?} ready"), || async {
            Ok(self
                .http
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
                .then_some(()))
        })
        .await
    }

    /// The status of `service`'s readiness check now (`None`: it did not answer).
    pub async fn readiness(&self, service: Service) -> Option<StatusCode> {
        let url = format!("{}/readyz", self.url(service));
        let answer = self
            .http
            .get(url)
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        answer.ok().map(|r| r.status())
    }

    async fn sign_up(&self, email: &str) -> anyhow::Result<String> {
        let body = json!({ "email": email, "password": PASSWORD });
        let registered = self
            .call(Method::POST, "/api/v1/users", None, Some(&body))
            .await?;
        anyhow::ensure!(
            registered.status() == StatusCode::CREATED,
            "registering {email}: {}",
            registered.status()
        );
        let profile: Value = registered.json().await?;
        let id = profile["id"].as_str().context("no account id")?;
        self.mark_verified(id, email).await?;
        let tokens: Value = self
            .call(Method::POST, "/api/v1/auth/token", None, Some(&body))
            .await?
            .error_for_status()?
            .json()
            .await?;
        tokens["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("no access token")
    }

    /// Proving receipt of the verification mail is the users service's tests' business.
    async fn mark_verified(&self, id: &str, email: &str) -> anyhow::Result<()> {
        let id = mongodb::bson::oid::ObjectId::parse_str(id)?;
        let db = self.database(Service::Users).await?;
        db.collection::<mongodb::bson::Document>("users")
            .update_one(
                mongodb::bson::doc! { "_id": id },
                mongodb::bson::doc! { "$set": { "emails": [{ "address": email, "verified": true, "primary": true }] } },
            )
            .await?;
        db.client().clone().shutdown().await;
        Ok(())
    }

    /// `service`'s database (a client of its own: shut it down after use).
    pub async fn database(&self, service: Service) -> anyhow::Result<mongodb::Database> {
        let name = self
            .database_name(service)
            .context("the service has no database")?;
        let client =
            mongodb::Client::with_uri_str("mongodb://127.0.0.1:27017/?directConnection=true")
                .await?;
        Ok(client.database(&name))
    }

    /// One request through the gateway.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<reqwest::Response> {
        self.call_at(&self.gateway(), method, path, token, body, None)
            .await
    }

    pub async fn call_at(
        &self,
        base: &str,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<reqwest::Response> {
        let mut request = self.http.request(method, format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        Ok(request.send().await?)
    }

    /// Creates an event starting in two hours; returns its id.
    pub async fn event(&self, title: &str) -> anyhow::Result<String> {
        let body = json!({
            "title": title,
            "starts_at": (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339(),
            "timezone": "Europe/Madrid",
            "place": { "name": "Teatro Isabel la Católica", "address": "Granada" },
            "topics": ["music"],
        });
        let created = self
            .call(
                Method::POST,
                "/api/v1/events",
                Some(&self.admin),
                Some(&body),
            )
            .await?;
        anyhow::ensure!(
            created.status() == StatusCode::CREATED,
            "creating an event: {}",
            created.status()
        );
        let created: Value = created.json().await?;
        created["id"]
            .as_str()
            .map(str::to_owned)
            .context("no event id")
    }

    /// Creates a reminder for `event` at `send_at` as a careful client does: one idempotency
    /// key, retried through refusals and 503s (outcome unknown) until `limit`. Returns the id
    /// of the reminder once the platform confirmed it, `None` if it never did.
    pub async fn reminder(
        &self,
        event: &str,
        send_at: chrono::DateTime<chrono::Utc>,
        limit: Duration,
    ) -> anyhow::Result<Option<String>> {
        let key = testing::unique_name("reminder");
        let body = json!({ "event_id": event, "send_at": send_at.to_rfc3339() });
        let give_up = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < give_up {
            let answer = self
                .call_at(
                    &self.gateway(),
                    Method::POST,
                    "/api/v1/notifications",
                    Some(&self.user),
                    Some(&body),
                    Some(&key),
                )
                .await;
            match answer {
                Ok(created) if created.status() == StatusCode::CREATED => {
                    let created: Value = created.json().await?;
                    return Ok(created["id"].as_str().map(str::to_owned));
                }
                // The same key still held by an attempt the kill cut off: retry, as told.
                Ok(busy) if busy.status() == StatusCode::CONFLICT => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Ok(refused) if refused.status().is_client_error() => {
                    let status = refused.status();
                    bail!("a reminder refused: {status} {}", refused.text().await?)
                }
                _retry => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
        Ok(None)
    }

    /// A reminder's status as its owner sees it.
    pub async fn reminder_status(&self, id: &str) -> anyhow::Result<String> {
        let reminder: Value = self
            .call(
                Method::GET,
                &format!("/api/v1/notifications/{id}"),
                Some(&self.user),
                None,
            )
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(reminder["status"].as_str().unwrap_or_default().to_owned())
    }

    /// The ids of the user's reminders (the scenarios make fewer than a page).
    pub async fn reminder_ids(&self) -> anyhow::Result<Vec<String>> {
        let page: Value = self
            .call(
                Method::GET,
                "/api/v1/notifications?limit=100",
                Some(&self.user),
                None,
            )
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item["id"].as_str().map(str::to_owned))
            .collect())
    }

    /// How many times the SMTP server received each reminder's mail, by reminder id.
    pub async fn mails_per_reminder(&self) -> anyhow::Result<HashMap<String, usize>> {
        let (_, mails) = self.mailpit.api().all(10_000).await?;
        let mut counts = HashMap::new();
        for mail in mails {
            let id = mail.message_id.split('@').next().unwrap_or_default();
            if let Some((reminder, _time)) = id
                .strip_prefix("reminder-")
                .and_then(|rest| rest.rsplit_once('-'))
            {
                *counts.entry(reminder.to_owned()).or_insert(0) += 1;
            }
        }
        Ok(counts)
    }

    /// Waits until every reminder in `ids` was mailed and recorded `sent`; returns how many
    /// times each was mailed.
    pub async fn wait_until_sent(
        &self,
        ids: &[String],
        limit: Duration,
    ) -> anyhow::Result<HashMap<String, usize>> {
        let counts = testing::eventually(
            limit,
            &format!("{} reminders mailed", ids.len()),
            || async {
                let counts = self.mails_per_reminder().await?;
                let missing = ids.iter().filter(|id| !counts.contains_key(*id)).count();
                Ok((missing == 0).then_some(counts))
            },
        )
        .await?;
        testing::eventually(limit, "every reminder recorded sent", || async {
            for id in ids {
                if self.reminder_status(id).await? != "sent" {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        })
        .await?;
        Ok(counts)
    }

    /// Kills every process and removes the scenario's databases and broker names.
    pub async fn cleanup(mut self) -> anyhow::Result<()> {
        self.kill_all().await?;
        self.mailpit.stop().await?;
        for service in [
            Service::Users,
            Service::Events,
            Service::NotificationsApi,
            Service::EmailSender,
        ] {
            let db = self.database(service).await?;
            db.drop().await?;
            db.client().clone().shutdown().await;
        }
        testing::RabbitAdmin::local()
            .delete_prefixed(&format!("{}.", self.name))
            .await?;
        Ok(())
    }
}

/// Builds the debug binaries a [`Stack`] runs.
pub fn build() -> anyhow::Result<()> {
    let mut build = vec!["build"];
    for name in [
        "users",
        "events",
        "notifications",
        "email-sender",
        "gateway",
    ] {
        build.extend(["-p", name]);
    }
    process::run_step("cargo build", workspace::cargo(), &build)
}

/// The debug build of `name`, which [`build`] made.
fn binary(name: &str) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace::root().join("target"))
        .join("debug")
        .join(name)
}

pub fn signal(pid: Option<u32>, signal: &str) -> anyhow::Result<()> {
    let pid = pid.context("the process is gone")?;
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()?;
    anyhow::ensure!(status.success(), "kill -{signal} {pid} failed");
    Ok(())
}

/// How many replicas of `service` a stack of `replicas` runs: one gateway in front of all.
fn replicas_of(service: Service, replicas: usize) -> usize {
    if service == Service::Gateway {
        1
    } else {
        replicas.max(1)
    }
}

/// Ports a stack's processes listen on: below Linux's ephemeral range (32768 and up). A port
/// the kernel handed out as free (port 0) is in that range, and before the service bound it
/// an outgoing connection could take it as its own end ("Address already in use": a CI run's
/// users service once); a port below the range is only ever taken by a bind.
const PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A port of [`PORTS`] nothing listens on now, a different one at each call.
fn free_port() -> anyhow::Result<u16> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let span = u32::from(PORTS.end - PORTS.start);
    // Runs of this runner start at different places, so two at once rarely meet.
    let start = std::process::id().wrapping_mul(7919) % span;
    for _ in 0..span {
        let offset = (start + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) % span;
        let port = PORTS.start + u16::try_from(offset)?;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    anyhow::bail!("no free port in {PORTS:?}")
}
