//! A whole site for one test: fresh databases and broker names, the services in this process,
//! and a browser-like client (cookies kept, redirects not followed) at the public gateway.

use std::time::Duration;

use common::{
    client_address::TrustedProxies,
    config::{AuthConfig, HttpConfig, Secret},
    testing,
};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use url::Url;

pub const PASSWORD: &str = "correct horse battery staple";

/// Where the mails say the web app is.
pub const PUBLIC_URL: &str = "https://eventpost.example/";

/// Nothing listens here.
#[expect(clippy::expect_used, reason = "a constant URL parses")]
fn unreachable() -> Url {
    Url::parse("http://127.0.0.1:1/").expect("a constant URL")
}

pub struct Site {
    /// The public gateway, in front of the API and the web app.
    pub url: Url,
    /// The gateway the web app calls the API through.
    api: Url,
    pub admin_token: String,
    /// The administrator's address (password [`PASSWORD`]).
    pub admin_email: String,
    api_client: reqwest::Client,
    users_db: mongodb::Database,
    amqp: common::config::AmqpConfig,
    stop: CancellationToken,
    databases: Vec<mongodb::Database>,
    prefix: String,
}

/// What changes between sites.
pub struct Options {
    /// The access tokens' lifetime.
    pub access_ttl: Duration,
    /// Whether an email-sender mails what is asked to the local Mailpit. Without one, the
    /// mails wait on the queue, where [`Site::mailed_link`] reads them.
    pub mail: bool,
    /// How many instances of the web app the public gateway shares the pages between.
    pub web_instances: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            access_ttl: Duration::from_secs(15 * 60),
            mail: false,
            web_instances: 1,
        }
    }
}

impl Site {
    pub async fn start(options: Options) -> anyhow::Result<Self> {
        testing::init();
        let stop = CancellationToken::new();
        let amqp = testing::amqp_config("web");
        let admin_email = format!("{}@example.com", testing::unique_name("admin"));

        let users = users::Application::build(users::config::Config {
            http: HttpConfig::ephemeral(),
            mongo: testing::mongo_config("web_users"),
            amqp: amqp.clone(),
            tokens: users::tokens::TokenConfig {
                signing_key: Some(Secret::new(testing::TEST_SIGNING_KEY)),
                access_ttl: options.access_ttl,
                ..Default::default()
            },
            admin_emails: vec![common::domain::EmailAddress::parse(&admin_email)?],
            public_url: Url::parse(PUBLIC_URL)?,
            ..users::config::Config::default()
        })
        .await?;
        let users_url = Url::parse(&format!("http://127.0.0.1:{}/", users.port()))?;
        let users_db = users.db().clone();
        let mut databases = vec![users_db.clone()];
        tokio::spawn(users.run_until_stopped(stop.clone()));
        let auth = AuthConfig {
            jwks_url: users_url.join(".well-known/jwks.json")?,
            ..AuthConfig::default()
        };

        let events = events::Application::build(events::config::Config {
            http: HttpConfig::ephemeral(),
            mongo: testing::mongo_config("web_events"),
            amqp: amqp.clone(),
            auth: auth.clone(),
            ..events::config::Config::default()
        })
        .await?;
        let events_url = Url::parse(&format!("http://127.0.0.1:{}/", events.port()))?;
        databases.push(events.db().clone());
        tokio::spawn(events.run_until_stopped(stop.clone()));

        let notifications = notifications::Application::build(notifications::config::Config {
            http: HttpConfig::ephemeral(),
            mongo: testing::mongo_config("web_notifications"),
            amqp: amqp.clone(),
            auth: auth.clone(),
            users_url: users_url.clone(),
            events_url: events_url.clone(),
            public_url: Url::parse(PUBLIC_URL)?,
            ..notifications::config::Config::default()
        })
        .await?;
        let notifications_url = Url::parse(&format!("http://127.0.0.1:{}/", notifications.port()))?;
        databases.push(notifications.db().clone());
        tokio::spawn(notifications.run_until_stopped(stop.clone()));

        if options.mail {
            let mut config = email_sender::config::Config {
                http: HttpConfig::ephemeral(),
                mongo: testing::mongo_config("web_email"),
                amqp: amqp.clone(),
                ..email_sender::config::Config::default()
            };
            (config.smtp.host, config.smtp.port) = testing::Mailpit::smtp_address();
            let email_sender = email_sender::Application::build(config).await?;
            databases.push(email_sender.db().clone());
            tokio::spawn(email_sender.run_until_stopped(stop.clone()));
        }

        let gateway = |web: Vec<Url>| {
            let mut config = gateway::config::Config {
                http: HttpConfig::ephemeral(),
                auth: auth.clone(),
                // The web app is on this machine: what it forwards names the visitor.
                trusted_proxies: TrustedProxies::loopback(),
                ..gateway::config::Config::default()
            };
            config.upstreams.users = vec![users_url.clone()];
            config.upstreams.events = vec![events_url.clone()];
            config.upstreams.notifications = vec![notifications_url.clone()];
            config.upstreams.web = web;
            config.upstreams.health_interval = Duration::from_millis(200);
            config
        };
        let api_gateway = gateway::Application::build(gateway(vec![unreachable()])).await?;
        let api = Url::parse(&format!("http://127.0.0.1:{}/", api_gateway.port()))?;
        tokio::spawn(api_gateway.run_until_stopped(stop.clone()));

        // Every instance of the web app on one database, as in production.
        let mut web_config = web::config::Config {
            http: HttpConfig::ephemeral(),
            mongo: testing::mongo_config("web"),
            api_url: api.clone(),
            ..web::config::Config::default()
        };
        let mut web_urls = Vec::with_capacity(options.web_instances);
        for instance in 0..options.web_instances {
            let web = web::Application::build(web_config.clone()).await?;
            web_urls.push(Url::parse(&format!("http://127.0.0.1:{}/", web.port()))?);
            if instance == 0 {
                databases.push(web.db().clone());
                web_config.mongo.database = web.db().name().to_owned();
            }
            tokio::spawn(web.run_until_stopped(stop.clone()));
        }

        let public = gateway::Application::build(gateway(web_urls)).await?;
        let url = Url::parse(&format!("http://127.0.0.1:{}/", public.port()))?;
        tokio::spawn(public.run_until_stopped(stop.clone()));

        let mut site = Self {
            url,
            api,
            admin_token: String::new(),
            admin_email: admin_email.clone(),
            api_client: reqwest::Client::new(),
            users_db,
            amqp: amqp.clone(),
            stop,
            databases,
            prefix: amqp.prefix,
        };
        site.register_by_api(&admin_email).await?;
        site.admin_token = site.token(&admin_email).await?;
        Ok(site)
    }

    async fn register_by_api(&self, email: &str) -> anyhow::Result<()> {
        let response = self
            .api_client
            .post(self.api.join("api/v1/users")?)
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == StatusCode::CREATED,
            "registered: {response:?}"
        );
        Ok(())
    }

    async fn token(&self, email: &str) -> anyhow::Result<String> {
        let tokens: Value = self
            .api_client
            .post(self.api.join("api/v1/auth/token")?)
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        tokens["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("no token in {tokens}"))
    }

    /// Creates an event starting `days` from now in Berlin; returns its id.
    pub async fn event(
        &self,
        title: &str,
        description: &str,
        topic: &str,
    ) -> anyhow::Result<String> {
        let starts_at = chrono::Utc::now() + chrono::Duration::days(3);
        let created: Value = self
            .api_client
            .post(self.api.join("api/v1/events")?)
            .bearer_auth(&self.admin_token)
            .json(&json!({
                "title": title,
                "description": description,
                "starts_at": starts_at,
                "timezone": "Europe/Berlin",
                "place": { "name": "Volkspark", "address": "Friedrichshain, Berlin" },
                "topics": [topic],
            }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        created["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("no id in {created}"))
    }

    /// A new account with a verified address and [`PASSWORD`]; returns the address.
    pub async fn account(&self) -> anyhow::Result<String> {
        let email = format!("{}@example.com", testing::unique_name("person"));
        self.register_by_api(&email).await?;
        self.verify(&email).await?;
        Ok(email)
    }

    /// Marks `email`'s address verified, as following the mailed link would (that link is the
    /// users service's own tests' business).
    pub async fn verify(&self, email: &str) -> anyhow::Result<()> {
        let token = self.token(email).await?;
        let profile: Value = self
            .api_client
            .get(self.api.join("api/v1/users/me")?)
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id =
            mongodb::bson::oid::ObjectId::parse_str(profile["id"].as_str().unwrap_or_default())?;
        let verified = self
            .users_db
            .collection::<mongodb::bson::Document>("users")
            .update_one(
                mongodb::bson::doc! { "_id": id },
                mongodb::bson::doc! { "$set": { "emails": [{ "address": email, "verified": true, "primary": true }] } },
            )
            .await?;
        anyhow::ensure!(verified.matched_count == 1, "{email} registered");
        Ok(())
    }

    /// The link of the next verification (or, with `reset`, password-reset) mail requested
    /// for `to`, taken off the email queue (no email-sender runs here).
    pub async fn mailed_link(&self, to: &str, reset: bool) -> anyhow::Result<String> {
        use common::messages::{EmailContent, EmailRequestedV1};
        use lapin::options::{BasicAckOptions, BasicGetOptions};
        let broker = common::amqp::Broker::connect(&self.amqp, "web-test-mail").await?;
        let channel = broker.channel().await?;
        let queue = common::topology::Topology::new(&self.amqp.prefix)
            .queue(common::topology::Queue::Emails);
        testing::eventually(Duration::from_secs(10), "the mail", || async {
            while let Some(message) = channel
                .basic_get(queue.as_str().into(), BasicGetOptions::default())
                .await?
            {
                message.delivery.ack(BasicAckOptions::default()).await?;
                let mail: EmailRequestedV1 = serde_json::from_slice(&message.delivery.data)?;
                let link = match mail.content {
                    EmailContent::VerifyAddress { link, .. } if !reset => link,
                    EmailContent::ResetPassword { link, .. } if reset => link,
                    _ => None,
                };
                if mail.to.as_str() == to && link.is_some() {
                    return Ok(link);
                }
            }
            Ok(None)
        })
        .await
    }

    /// Creates an event at a position (three days from now, in Lisbon's zone); returns its id.
    pub async fn event_at(&self, title: &str, lat: f64, lon: f64) -> anyhow::Result<String> {
        let created: Value = self
            .api_client
            .post(self.api.join("api/v1/events")?)
            .bearer_auth(&self.admin_token)
            .json(&json!({
                "title": title,
                "starts_at": chrono::Utc::now() + chrono::Duration::days(3),
                "timezone": "Europe/Lisbon",
                "place": { "name": title, "lat": lat, "lon": lon },
            }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        created["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("no id in {created}"))
    }

    /// A new browser: its own cookies, redirects shown rather than followed.
    pub fn browser(&self) -> anyhow::Result<Browser> {
        Ok(Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            base: self.url.clone(),
        })
    }

    /// Stops everything and drops the databases and queues.
    pub async fn cleanup(self) -> anyhow::Result<()> {
        self.stop.cancel();
        for db in self.databases {
            db.drop().await?;
        }
        testing::RabbitAdmin::local()
            .delete_prefixed(&self.prefix)
            .await?;
        Ok(())
    }
}

/// A visitor's browser.
pub struct Browser {
    pub client: reqwest::Client,
    base: Url,
}

/// A page as the browser got it.
pub struct Page {
    pub status: StatusCode,
    pub headers: header::HeaderMap,
    pub body: String,
}

impl Page {
    /// Where a redirect goes.
    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|value| value.to_str().ok())
    }

    /// The CSRF token the page's forms carry.
    pub fn csrf(&self) -> anyhow::Result<String> {
        let marker = r#"name="csrf" value=""#;
        let start = self
            .body
            .find(marker)
            .ok_or_else(|| anyhow::anyhow!("no CSRF token in {}", self.body))?
            + marker.len();
        let end = self.body[start..]
            .find('"')
            .ok_or_else(|| anyhow::anyhow!("an unterminated token"))?;
        Ok(unescape(&self.body[start..start + end]))
    }
}

/// An attribute's value as a browser reads it (minijinja escapes `/` too).
fn unescape(html: &str) -> String {
    [
        ("&#x2f;", "/"),
        ("&#x27;", "'"),
        ("&quot;", "\""),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&amp;", "&"),
    ]
    .iter()
    .fold(html.to_owned(), |text, (entity, character)| {
        text.replace(entity, character)
    })
}

impl Browser {
    /// Signs in through the sign-in page.
    pub async fn sign_in(&self, email: &str) -> anyhow::Result<()> {
        let form = self.get("/sign-in").await?;
        let answer = self
            .post(
                "/sign-in",
                &[
                    ("csrf", &form.csrf()?),
                    ("email", email),
                    ("password", PASSWORD),
                ],
            )
            .await?;
        anyhow::ensure!(
            answer.status == StatusCode::SEE_OTHER,
            "signed in: {}",
            answer.body
        );
        Ok(())
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Page> {
        let response = self.client.get(self.base.join(path)?).send().await?;
        Page::read(response).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> anyhow::Result<Page> {
        let response = self
            .client
            .post(self.base.join(path)?)
            .form(form)
            .send()
            .await?;
        Page::read(response).await
    }

    /// Registers through the register page and lands signed in; returns the address.
    pub async fn register(&self) -> anyhow::Result<String> {
        let email = format!("{}@example.com", testing::unique_name("visitor"));
        let form = self.get("/register").await?;
        let csrf = form.csrf()?;
        let registered = self
            .post(
                "/register",
                &[
                    ("csrf", &csrf),
                    ("email", &email),
                    ("password", PASSWORD),
                    ("display_name", "Ada"),
                ],
            )
            .await?;
        anyhow::ensure!(
            registered.status == StatusCode::SEE_OTHER,
            "registered: {} {}",
            registered.status,
            registered.body
        );
        Ok(email)
    }
}

impl Page {
    async fn read(response: reqwest::Response) -> anyhow::Result<Self> {
        Ok(Self {
            status: response.status(),
            headers: response.headers().clone(),
            // minijinja escapes `/` too, which a browser reads as `/`: so do the assertions.
            body: response.text().await?.replace("&#x2f;", "/"),
        })
    }
}
