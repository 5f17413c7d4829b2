use common::{config::HttpConfig, testing};
use gateway::{Application, config::Config};
use tokio_util::sync::CancellationToken;

/// One running instance of the service and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
}

/// Starts the service on a free port against the real dependencies, in fresh namespaces.
pub async fn spawn_app() -> anyhow::Result<TestApp> {
    testing::init();
    let config = Config {
        http: HttpConfig::local(0),
        ..Config::default()
    };
    let app = Application::build(config).await?;
    let test_app = TestApp {
        address: format!("http://127.0.0.1:{}", app.port()),
        client: reqwest::Client::new(),
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

    /// Stops the instance.
    pub async fn cleanup(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        Ok(())
    }
}
