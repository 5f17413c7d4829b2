use common::{config::HttpConfig, testing};
use notifications::{Application, config::Config};
use tokio_util::sync::CancellationToken;

/// One running instance of the service.
pub struct TestApp {
    pub address: String,
    pub db: mongodb::Database,
    shutdown: CancellationToken,
}

/// Starts the service on a free port against the real dependencies, in fresh namespaces.
pub async fn spawn_app() -> anyhow::Result<TestApp> {
    testing::init();
    let config = Config {
        http: HttpConfig::local(0),
        mongo: testing::mongo_config("notifications"),
        ..Config::default()
    };
    let app = Application::build(config).await?;
    let test_app = TestApp {
        address: format!("http://127.0.0.1:{}", app.port()),
        db: app.db().clone(),
        shutdown: CancellationToken::new(),
    };
    tokio::spawn(app.run_until_stopped(test_app.shutdown.clone()));
    Ok(test_app)
}

impl TestApp {
    /// Stops the instance and drops its database.
    pub async fn cleanup(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.db.drop().await?;
        Ok(())
    }
}
