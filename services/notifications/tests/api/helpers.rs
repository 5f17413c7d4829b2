//! The platform a reminder needs, for real and in this process: the users service (accounts,
//! tokens, verified addresses), the events service (the events reminded of), this service, and
//! for end-to-end tests the email-sender and Mailpit. They share one broker namespace, so the
//! messages between them flow as in production; each has its own database.

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{
    amqp::{Broker, Publisher},
    clock::ManualClock,
    config::{HttpConfig, MongoConfig, Secret},
    testing::{self, MailSummary, Mailpit, PausableProxy, RabbitAdmin},
    topology::{Exchange, Queue, Topology},
};
use lapin::options::{BasicAckOptions, BasicGetOptions};
use notifications::{
    action_links::ActionLinks,
    config::{Config, Role, SchedulerConfig},
    metrics::SchedulerMetrics,
    scheduler::Scheduler,
    store::Store,
};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use url::Url;

pub const PASSWORD: &str = "correct horse battery staple";

/// A service running in a task of its own, stoppable on its own.
pub struct Running {
    pub address: String,
    pub db: mongodb::Database,
    stop: CancellationToken,
    stopped: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    fn spawn<F>(port: u16, db: mongodb::Database, run: impl FnOnce(CancellationToken) -> F) -> Self
    where
        F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let stop = CancellationToken::new();
        Self {
            address: format!("http://127.0.0.1:{port}"),
            db,
            stopped: tokio::spawn(run(stop.clone())),
            stop,
        }
    }

    /// Stops it and waits until it has.
    pub async fn stop(self) -> anyhow::Result<mongodb::Database> {
        self.stop.cancel();
        self.stopped.await??;
        Ok(self.db)
    }
}

/// Users, events and notifications (and maybe the email-sender), and an administrator.
pub struct Platform {
    pub prefix: String,
    pub users: Running,
    pub events: Running,
    pub notifications: Running,
    pub email_sender: Option<Running>,
    pub amqp: Broker,
    pub admin: String,
    /// The notifications database's proxy, when [`Options::pausable_db`] asked for one.
    pub database: Option<PausableProxy>,
    pub client: reqwest::Client,
    admin_email: String,
    config: Config,
}

/// How the platform is started.
pub struct Options {
    /// The notifications process's role; `Api` leaves scheduling to the test.
    pub role: Role,
    /// Whether to run the email-sender (against the local Mailpit).
    pub email_sender: bool,
    /// Scheduler settings.
    pub scheduler: SchedulerConfig,
    /// Where the email-sender sends; the shared Mailpit by default.
    pub smtp: Option<(String, u16)>,
    /// Whether the notifications database is reached through a proxy the test can pause
    /// (operations then wait at most a second for it).
    pub pausable_db: bool,
    /// How long an event is left alone before its followers are mailed of its changes.
    pub change_notice_settle: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            role: Role::Api,
            email_sender: false,
            scheduler: SchedulerConfig::default(),
            smtp: None,
            pausable_db: false,
            change_notice_settle: Config::default().change_notice_settle,
        }
    }
}

/// The platform with the scheduler left to the test.
pub async fn spawn_platform() -> anyhow::Result<Platform> {
    Platform::start(Options::default()).await
}

impl Platform {
    pub async fn start(options: Options) -> anyhow::Result<Self> {
        testing::init();
        let amqp_config = testing::amqp_config("notifications");
        let prefix = amqp_config.prefix.clone();
        let admin_email = format!("{}@example.com", testing::unique_name("admin"));

        let users_config = users::config::Config {
            http: HttpConfig::ephemeral(),
            mongo: testing::mongo_config("notif_users"),
            amqp: amqp_config.clone(),
            tokens: users::tokens::TokenConfig {
                signing_key: Some(Secret::new(testing::TEST_SIGNING_KEY)),
                ..Default::default()
            },
            admin_emails: vec![common::domain::EmailAddress::parse(&admin_email)?],
            outbox_interval: Duration::from_millis(200),
            ..users::config::Config::default()
        };
        let users = users::Application::build(users_config).await?;
        let users_url = Url::parse(&format!("http://127.0.0.1:{}", users.port()))?;
        let auth = common::config::AuthConfig {
            jwks_url: users_url.join("/.well-known/jwks.json")?,
            ..Default::default()
        };
        let users = Running::spawn(users.port(), users.db().clone(), |stop| {
            users.run_until_stopped(stop)
        });

        let events_config = events::config::Config {
            http: HttpConfig::ephemeral(),
            mongo: testing::mongo_config("notif_events"),
            amqp: amqp_config.clone(),
            auth: auth.clone(),
            relay_interval: Duration::from_millis(200),
            ..events::config::Config::default()
        };
        let events = events::Application::build(events_config).await?;
        let events_url = Url::parse(&format!("http://127.0.0.1:{}", events.port()))?;
        let events = Running::spawn(events.port(), events.db().clone(), |stop| {
            events.run_until_stopped(stop)
        });

        let database = match options.pausable_db {
            true => Some(PausableProxy::to_local_mongo().await?),
            false => None,
        };
        let mut mongo = testing::mongo_config("notifications");
        if let Some(proxy) = &database {
            mongo = proxy.mongo_config(mongo, Duration::from_secs(1));
        }
        let config = Config {
            role: options.role,
            http: HttpConfig::ephemeral(),
            mongo,
            amqp: amqp_config.clone(),
            auth,
            users_url,
            events_url,
            scheduler: options.scheduler,
            change_notice_settle: options.change_notice_settle,
            ..Config::default()
        };
        let app = notifications::Application::build(config.clone()).await?;
        let amqp = app.amqp().clone();
        let notifications = Running::spawn(app.port(), app.db().clone(), |stop| {
            app.run_until_stopped(stop)
        });

        let mut platform = Self {
            prefix,
            users,
            events,
            notifications,
            email_sender: None,
            amqp,
            admin: String::new(),
            database,
            client: reqwest::Client::new(),
            admin_email,
            config,
        };
        if options.email_sender {
            let smtp = options.smtp.unwrap_or_else(testing::Mailpit::smtp_address);
            platform.start_email_sender(smtp).await?;
        }
        let admin_email = platform.admin_email.clone();
        platform.admin = platform.user_with_email(&admin_email).await?;
        Ok(platform)
    }

    /// Starts the email-sender (again: on the same queues and database), sending to `smtp`.
    pub async fn start_email_sender(&mut self, (host, port): (String, u16)) -> anyhow::Result<()> {
        let mut config = email_sender::config::Config {
            http: HttpConfig::ephemeral(),
            mongo: testing::mongo_config("notif_email"),
            amqp: self.config.amqp.clone(),
            worker: email_sender::config::WorkerConfig::with_delays([
                Duration::from_millis(300),
                Duration::from_millis(600),
            ]),
            ..email_sender::config::Config::default()
        };
        if let Some(previous) = &self.email_sender {
            config.mongo.database = previous.db.name().to_owned();
        }
        config.smtp.host = host;
        config.smtp.port = port;
        let app = email_sender::Application::build(config).await?;
        if let Some(previous) = self.email_sender.take() {
            previous.stop().await?;
        }
        self.email_sender = Some(Running::spawn(app.port(), app.db().clone(), |stop| {
            app.run_until_stopped(stop)
        }));
        Ok(())
    }

    pub async fn send(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Response> {
        let mut request = self.client.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        Ok(request.send().await?)
    }

    /// A registered user whose primary address is verified; returns their access token.
    pub async fn user(&self) -> anyhow::Result<String> {
        let email = format!("{}@example.com", testing::unique_name("user"));
        self.user_with_email(&email).await
    }

    /// Registers `email`, marks it verified, logs in; returns the access token.
    pub async fn user_with_email(&self, email: &str) -> anyhow::Result<String> {
        let users = &self.users.address;
        let body = json!({ "email": email, "password": PASSWORD });
        let registered = self
            .send(
                Method::POST,
                &format!("{users}/api/v1/users"),
                None,
                Some(&body),
            )
            .await?;
        assert_eq!(registered.status(), StatusCode::CREATED);
        let profile: Value = registered.json().await?;
        let id =
            mongodb::bson::oid::ObjectId::parse_str(profile["id"].as_str().unwrap_or_default())?;
        // Proving receipt of the verification mail is the users service's own tests' business.
        self.users
            .db
            .collection::<Value>("users")
            .update_one(
                mongodb::bson::doc! { "_id": id },
                mongodb::bson::doc! { "$set": { "emails": [{ "address": email, "verified": true, "primary": true }] } },
            )
            .await?;
        self.token(email).await
    }

    /// Gives the token's account `primary` and a verified secondary `address`.
    pub async fn add_verified_address(
        &self,
        token: &str,
        primary: &str,
        address: &str,
    ) -> anyhow::Result<()> {
        let me = self.profile(token).await?;
        let id = mongodb::bson::oid::ObjectId::parse_str(me["id"].as_str().unwrap_or_default())?;
        let emails = mongodb::bson::doc! { "$set": { "emails": [
            { "address": primary, "verified": true, "primary": true },
            { "address": address, "verified": true, "primary": false },
        ] } };
        self.users
            .db
            .collection::<Value>("users")
            .update_one(mongodb::bson::doc! { "_id": id }, emails)
            .await?;
        Ok(())
    }

    /// Logs in as `email`.
    pub async fn token(&self, email: &str) -> anyhow::Result<String> {
        let users = &self.users.address;
        let body = json!({ "email": email, "password": PASSWORD });
        let tokens: Value = self
            .send(
                Method::POST,
                &format!("{users}/api/v1/auth/token"),
                None,
                Some(&body),
            )
            .await?
            .json()
            .await?;
        Ok(tokens["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The primary address of the token's account.
    pub async fn email_of(&self, token: &str) -> anyhow::Result<String> {
        let me = self.profile(token).await?;
        Ok(me["email"].as_str().unwrap_or_default().to_owned())
    }

    /// Sets the zone of the token's account.
    pub async fn set_timezone(&self, token: &str, zone: &str) -> anyhow::Result<()> {
        let url = format!("{}/api/v1/users/me", self.users.address);
        let body = json!({ "timezone": zone });
        let set = self
            .send(Method::PATCH, &url, Some(token), Some(&body))
            .await?;
        assert_eq!(set.status(), StatusCode::OK);
        Ok(())
    }

    /// The token's account as the users service shows it to its owner.
    async fn profile(&self, token: &str) -> anyhow::Result<Value> {
        let url = format!("{}/api/v1/users/me", self.users.address);
        let me = self.send(Method::GET, &url, Some(token), None).await?;
        Ok(me.json().await?)
    }

    /// Creates an event starting at `starts_at`; returns its id.
    pub async fn event(&self, title: &str, starts_at: DateTime<Utc>) -> anyhow::Result<String> {
        let body = json!({
            "title": title,
            "starts_at": starts_at.to_rfc3339(),
            "timezone": "Europe/Madrid",
            "place": { "name": "Teatro Isabel la Católica", "address": "Granada" },
            "topics": ["music"],
        });
        let created = self
            .send(
                Method::POST,
                &format!("{}/api/v1/events", self.events.address),
                Some(&self.admin),
                Some(&body),
            )
            .await?;
        assert_eq!(created.status(), StatusCode::CREATED);
        let created: Value = created.json().await?;
        Ok(created["id"].as_str().unwrap_or_default().to_owned())
    }

    /// Moves an event to `starts_at` (as the administrator).
    pub async fn move_event(
        &self,
        id: &str,
        title: &str,
        starts_at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let body = json!({
            "title": title,
            "starts_at": starts_at.to_rfc3339(),
            "timezone": "Europe/Madrid",
            "place": { "name": "Teatro Isabel la Católica", "address": "Granada" },
        });
        let url = format!("{}/api/v1/events/{id}", self.events.address);
        let moved = self
            .send(Method::PUT, &url, Some(&self.admin), Some(&body))
            .await?;
        assert_eq!(moved.status(), StatusCode::OK);
        Ok(())
    }

    /// Saves (`PUT`) or unsaves (`DELETE`) event `id` as `token`.
    pub async fn save_event(&self, method: Method, token: &str, id: &str) -> anyhow::Result<()> {
        let url = format!("{}/api/v1/events/{id}/saved", self.events.address);
        let saved = self.send(method, &url, Some(token), None).await?;
        assert_eq!(saved.status(), StatusCode::NO_CONTENT);
        Ok(())
    }

    pub async fn delete_event(&self, id: &str) -> anyhow::Result<()> {
        let url = format!("{}/api/v1/events/{id}", self.events.address);
        let deleted = self
            .send(Method::DELETE, &url, Some(&self.admin), None)
            .await?;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        Ok(())
    }

    /// `method` on `/api/v1/notifications<path>` as `token`.
    pub async fn reminders(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Response> {
        let url = format!("{}/api/v1/notifications{path}", self.notifications.address);
        self.send(method, &url, Some(token), body).await
    }

    /// Asserts that creating each reminder is refused with a 422 naming the fields given.
    pub async fn assert_creation_refused(
        &self,
        token: &str,
        cases: &[(Value, Vec<&str>)],
    ) -> anyhow::Result<()> {
        for (body, expected) in cases {
            let response = self.reminders(Method::POST, "", token, Some(body)).await?;
            assert_eq!(
                response.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "{body}"
            );
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
            assert_eq!(&fields(&response.json().await?), expected, "{body}");
        }
        Ok(())
    }

    /// Creates a reminder; returns it.
    pub async fn create_reminder(&self, token: &str, body: &Value) -> anyhow::Result<Value> {
        let created = self.reminders(Method::POST, "", token, Some(body)).await?;
        assert_eq!(
            created.status(),
            StatusCode::CREATED,
            "{:?}",
            created.text().await
        );
        Ok(created.json().await?)
    }

    /// A reminder of `event` for `token`'s owner, due at `send_at`; returns its id.
    pub async fn remind(
        &self,
        token: &str,
        event: &str,
        send_at: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let body = json!({ "event_id": event, "send_at": send_at.to_rfc3339() });
        let created = self.create_reminder(token, &body).await?;
        Ok(created["id"].as_str().unwrap_or_default().to_owned())
    }

    /// The ids on the first page of the owner of `token`'s reminders, `query` (`?event_id=…`)
    /// narrowing them.
    pub async fn reminder_ids(&self, token: &str, query: &str) -> anyhow::Result<Vec<String>> {
        let page: Value = self
            .reminders(Method::GET, query, token, None)
            .await?
            .json()
            .await?;
        Ok(page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["id"].as_str().map(str::to_owned))
            .collect())
    }

    /// The reminder `id` as its owner sees it.
    pub async fn reminder(&self, token: &str, id: &str) -> anyhow::Result<Value> {
        Ok(self
            .reminders(Method::GET, &format!("/{id}"), token, None)
            .await?
            .json()
            .await?)
    }

    /// Waits until the reminder `id` has `status`.
    pub async fn wait_for_status(
        &self,
        token: &str,
        id: &str,
        status: &str,
    ) -> anyhow::Result<Value> {
        testing::eventually(
            Duration::from_secs(20),
            &format!("reminder {status}"),
            || async {
                let reminder = self.reminder(token, id).await?;
                Ok((reminder["status"] == status).then_some(reminder))
            },
        )
        .await
    }

    /// Stops everything, drops every database and deletes the queues.
    pub async fn cleanup(self) -> anyhow::Result<()> {
        let mut databases = vec![
            self.notifications.stop().await?,
            self.events.stop().await?,
            self.users.stop().await?,
        ];
        if let Some(email_sender) = self.email_sender {
            databases.push(email_sender.stop().await?);
        }
        for db in databases {
            db.drop().await?;
        }
        RabbitAdmin::local().delete_prefixed(&self.prefix).await?;
        Ok(())
    }
}

impl Platform {
    /// The message ids of the waiting reminder mails, taking them off the queue (no
    /// email-sender runs in these tests; the users service's welcome mails are skipped).
    pub async fn take_mail_ids(&self) -> anyhow::Result<Vec<String>> {
        let channel = self.amqp.channel().await?;
        let queue = Topology::new(&self.prefix).queue(Queue::Emails);
        let mut ids = Vec::new();
        while let Some(message) = channel
            .basic_get(queue.as_str().into(), BasicGetOptions::default())
            .await?
        {
            message.delivery.ack(BasicAckOptions::default()).await?;
            let id = message
                .delivery
                .properties
                .message_id()
                .as_ref()
                .map(|id| id.to_string())
                .unwrap_or_default();
            if id.starts_with("reminder-") {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// A scheduler on the same database and broker, as another replica would be, on a clock
    /// the test moves.
    pub async fn scheduler_at(
        &self,
        clock: &ManualClock,
        config: SchedulerConfig,
    ) -> anyhow::Result<Scheduler> {
        let store = open_store(&self.notifications.db).await?;
        let exchange = Topology::new(&self.prefix).exchange(Exchange::Email);
        let email = Publisher::new(&self.amqp, &exchange, Duration::from_secs(5)).await?;
        let metrics = SchedulerMetrics::register(&prometheus::Registry::new())?;
        Ok(Scheduler::new(
            store,
            email,
            config,
            metrics,
            clock.shared(),
            ActionLinks::new(&self.config.action_link_key, self.config.public_url.clone()),
        ))
    }

    /// A scheduler process of its own on the platform's database and broker, as a replica
    /// (or a restarted one) would be.
    pub async fn start_scheduler_process(&self) -> anyhow::Result<Running> {
        self.start_process(Role::Scheduler).await
    }

    /// Another notifications process in `role` on the platform's database and broker.
    pub async fn start_process(&self, role: Role) -> anyhow::Result<Running> {
        let config = Config {
            role,
            http: HttpConfig::ephemeral(),
            ..self.config.clone()
        };
        let app = notifications::Application::build(config).await?;
        Ok(Running::spawn(app.port(), app.db().clone(), |stop| {
            app.run_until_stopped(stop)
        }))
    }
}

/// A scheduler running on a clock the test moves, as [`Scheduler::run`] runs it in a
/// process: following change notices, reading ahead, firing its timers.
pub struct ClockedScheduler {
    pub scheduler: Scheduler,
    pub clock: ManualClock,
    /// Its own, as a process's would be: its notices queue goes when it does.
    connection: Broker,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl ClockedScheduler {
    /// Starts one at `now` and waits until it has caught up and holds its window.
    pub async fn start(
        platform: &Platform,
        now: DateTime<Utc>,
        config: SchedulerConfig,
    ) -> anyhow::Result<Self> {
        let clock = ManualClock::at(now);
        let scheduler = platform.scheduler_at(&clock, config).await?;
        let stop = CancellationToken::new();
        let connection = Broker::connect(&platform.config.amqp, "clocked-scheduler").await?;
        let task = tokio::spawn(scheduler.clone().run(
            connection.clone(),
            Topology::new(&platform.prefix),
            stop.clone(),
        ));
        tokio::time::timeout(Duration::from_secs(30), scheduler.wait_until_started()).await?;
        Ok(Self {
            scheduler,
            clock,
            connection,
            stop,
            task,
        })
    }

    /// Waits until what it holds (reminder ids and due times, in due order) passes `check`.
    pub async fn holds(
        &self,
        what: &str,
        check: impl Fn(&[(String, DateTime<Utc>)]) -> bool,
    ) -> anyhow::Result<()> {
        testing::eventually(Duration::from_secs(20), what, || async {
            let held: Vec<(String, DateTime<Utc>)> = self
                .scheduler
                .held()
                .into_iter()
                .map(|(id, at)| (id.to_string(), at))
                .collect();
            Ok(check(&held).then_some(()))
        })
        .await
    }

    /// Stops it as a process is stopped, letting its publishes finish.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.task.await??;
        Ok(self.connection.close(200, "stopped").await?)
    }

    /// Ends it where it stands, as a crash would: its work is dropped and the broker loses
    /// its connection. (Its periodic jobs' tasks linger in this process, on its frozen clock.)
    pub async fn kill(self) -> anyhow::Result<()> {
        self.task.abort();
        Ok(self.connection.close(320, "killed").await?)
    }
}

impl Platform {
    /// Takes reminder mail requests off the queue until there are `count`; returns their ids.
    pub async fn wait_for_mails(&self, count: usize) -> anyhow::Result<Vec<String>> {
        let taken = std::sync::Mutex::new(Vec::new());
        testing::eventually(
            Duration::from_secs(20),
            &format!("{count} mails"),
            || async {
                let more = self.take_mail_ids().await?;
                let mut taken = taken
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                taken.extend(more);
                Ok((taken.len() >= count).then(|| taken.clone()))
            },
        )
        .await
    }
}

/// The store on `db`, as another replica would open it.
pub async fn open_store(db: &mongodb::Database) -> anyhow::Result<Store> {
    Store::open(db, MongoConfig::local("-").deadline()).await
}

pub use common::testing::problem_fields as fields;

/// Waits until `count` reminder mails (not the welcome and verification mails the account also
/// got) reached `to`.
pub async fn reminders_to(
    mailpit: &Mailpit,
    to: &str,
    count: usize,
) -> anyhow::Result<Vec<MailSummary>> {
    testing::eventually(
        std::time::Duration::from_secs(20),
        "reminder mail",
        || async {
            let reminders: Vec<MailSummary> = mailpit
                .messages_to(to)
                .await?
                .into_iter()
                .filter(|mail| mail.message_id.starts_with("reminder-"))
                .collect();
            Ok((reminders.len() >= count).then_some(reminders))
        },
    )
    .await
}
