use common::{config::HttpConfig, testing};
use tokio_util::sync::CancellationToken;
use users::{Application, config::Config};

/// One running instance of the service and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: mongodb::Database,
    shutdown: CancellationToken,
}

/// Starts the service on a free port against the real dependencies, in fresh namespaces.
pub async fn spawn_app() -> anyhow::Result<TestApp> {
    testing::init();
    let config = Config {
        http: HttpConfig::local(0),
        mongo: testing::mongo_config("users"),
        ..Config::default()
    };
    let app = Application::build(config).await?;
    let test_app = TestApp {
        address: format!("http://127.0.0.1:{}", app.port()),
        client: reqwest::Client::new(),
        db: app.db().clone(),
        shutdown: CancellationToken::new(),
    };
    tokio::spawn(app.run_until_stopped(test_app.shutdown.clone()));
    Ok(test_app)
}

impl TestApp {
    pub async fn get(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await?)
    }

    /// Stops the instance and drops its database.
    pub async fn cleanup(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.db.drop().await?;
        Ok(())
    }
}
