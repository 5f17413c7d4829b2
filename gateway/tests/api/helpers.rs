use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use common::{
    config::{AuthConfig, HttpConfig, Secret},
    testing,
};
use gateway::{Application, config::Config};
use poem::{Request, Route, handler, listener::TcpAcceptor, web::Json};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use url::Url;

/// A small real HTTP server that answers every request with what it received, named so tests
/// can tell instances apart. `…/slow` takes two seconds.
pub struct Echo {
    pub url: Url,
    pub hits: Arc<AtomicUsize>,
    stop: CancellationToken,
}

impl Echo {
    pub async fn start(name: &'static str) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = Url::parse(&format!("http://{}/", listener.local_addr()?))?;
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let app = Route::new().at("/readyz", poem::get(ready)).at(
            "/*path",
            poem::endpoint::make(move |req: Request| {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    echo(name, req).await
                }
            }),
        );
        let stop = CancellationToken::new();
        let server = poem::Server::new_with_acceptor(TcpAcceptor::from_tokio(listener)?)
            .run_with_graceful_shutdown(app, stop.clone().cancelled_owned(), Some(Duration::ZERO));
        tokio::spawn(server);
        Ok(Self { url, hits, stop })
    }

    /// Stops answering (the port closes).
    pub fn stop(&self) {
        self.stop.cancel();
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

#[handler]
fn ready() -> &'static str {
    "ok"
}

async fn echo(name: &str, req: Request) -> Json<Value> {
    if req.uri().path().ends_with("/slow") {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let headers: serde_json::Map<String, Value> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                Value::String(v.to_str().unwrap_or("").to_owned()),
            )
        })
        .collect();
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let body = req.into_body().into_vec().await.unwrap_or_default();
    Json(json!({
        "instance": name, "method": method, "path": path, "query": query,
        "headers": headers, "body_len": body.len(),
    }))
}

/// The users service, spawned for real.
pub struct Users {
    pub url: Url,
    db: mongodb::Database,
    stop: CancellationToken,
}

impl Users {
    pub async fn start() -> anyhow::Result<Self> {
        let config = users::config::Config {
            http: HttpConfig::ephemeral(),
            mongo: testing::mongo_config("gateway"),
            amqp: testing::amqp_config("gateway"),
            tokens: users::tokens::TokenConfig {
                signing_key: Some(Secret::new(common::testing::TEST_SIGNING_KEY)),
                ..Default::default()
            },
            ..users::config::Config::default()
        };
        let app = users::Application::build(config).await?;
        let url = Url::parse(&format!("http://127.0.0.1:{}/", app.port()))?;
        let db = app.db().clone();
        let stop = CancellationToken::new();
        tokio::spawn(app.run_until_stopped(stop.clone()));
        Ok(Self { url, db, stop })
    }

    pub async fn cleanup(self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.db.drop().await?;
        Ok(())
    }
}

/// A gateway on a free port.
pub struct TestGateway {
    pub address: String,
    pub client: reqwest::Client,
    stop: CancellationToken,
}

/// Nothing listens here: an instance that is down.
pub fn unreachable() -> Url {
    Url::parse("http://127.0.0.1:1/").expect("valid")
}

pub async fn spawn_gateway(change: impl FnOnce(&mut Config)) -> anyhow::Result<TestGateway> {
    testing::init();
    let mut config = Config {
        http: HttpConfig::ephemeral(),
        ..Config::default()
    };
    config.upstreams.users = vec![unreachable()];
    config.upstreams.events = vec![unreachable()];
    config.upstreams.notifications = vec![unreachable()];
    config.upstreams.web = vec![unreachable()];
    config.upstreams.health_interval = Duration::from_millis(100);
    change(&mut config);
    let app = Application::build(config).await?;
    let gateway = TestGateway {
        address: format!("http://127.0.0.1:{}", app.port()),
        client: reqwest::Client::new(),
        stop: CancellationToken::new(),
    };
    tokio::spawn(app.run_until_stopped(gateway.stop.clone()));
    Ok(gateway)
}

/// Points the gateway's token checks at `users`.
pub fn trust(config: &mut Config, users: &Users) {
    config.upstreams.users = vec![users.url.clone()];
    config.auth = AuthConfig {
        jwks_url: users.url.join(".well-known/jwks.json").expect("valid"),
        ..AuthConfig::default()
    };
}

impl TestGateway {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        Ok(self.client.get(self.url(path)).send().await?)
    }

    /// Registers and logs in through the gateway; returns the access token.
    pub async fn sign_up(&self) -> anyhow::Result<String> {
        let email = format!("{}@example.com", testing::unique_name("gw"));
        let credentials = json!({ "email": email, "password": "correct horse battery" });
        let registered = self
            .client
            .post(self.url("/api/v1/users"))
            .json(&credentials)
            .send()
            .await?;
        assert_eq!(registered.status(), 201);
        let tokens: Value = self
            .client
            .post(self.url("/api/v1/auth/token"))
            .json(&credentials)
            .send()
            .await?
            .json()
            .await?;
        Ok(tokens["access_token"].as_str().expect("a token").to_owned())
    }

    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Sends `GET <path>` exactly as written (HTTP clients normalise dot segments away) and
    /// returns the status code.
    pub async fn raw_get_status(&self, path: &str) -> anyhow::Result<u16> {
        self.raw_status(&format!("GET {path} HTTP/1.1"), "").await
    }

    /// Sends `request_line` and `extra_headers` (each ending in CRLF) as bytes, exactly as
    /// written, and returns the status code.
    pub async fn raw_status(&self, request_line: &str, extra_headers: &str) -> anyhow::Result<u16> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = self.address.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address).await?;
        let request = format!(
            "{request_line}\r\nHost: {address}\r\n{extra_headers}Connection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        let status = answer.split_whitespace().nth(1).unwrap_or_default();
        Ok(status.parse()?)
    }
}

/// Asserts a problem+json answer with `status`.
pub async fn problem(response: reqwest::Response, status: u16) -> anyhow::Result<Value> {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    Ok(response.json().await?)
}

/// Polls until `probe` holds.
pub async fn until(what: &str, probe: impl AsyncFn() -> bool) -> anyhow::Result<()> {
    testing::eventually(Duration::from_secs(5), what, || async {
        Ok(probe().await.then_some(()))
    })
    .await
}
