use common::{config::HttpConfig, testing};
use email_sender::{Application, config::Config};
use tokio_util::sync::CancellationToken;

/// One running instance of the service.
pub struct TestApp {
    pub address: String,
    shutdown: CancellationToken,
}

/// Starts the service on a free port against the real dependencies, in fresh namespaces.
pub async fn spawn_app() -> anyhow::Result<TestApp> {
    testing::init();
    let config = Config {
        http: HttpConfig::local(0),
        amqp: testing::amqp_config("email_sender"),
        ..Config::default()
    };
    let app = Application::build(config).await?;
    let test_app = TestApp {
        address: format!("http://127.0.0.1:{}", app.port()),
        shutdown: CancellationToken::new(),
    };
    tokio::spawn(app.run_until_stopped(test_app.shutdown.clone()));
    Ok(test_app)
}

impl TestApp {
    /// Stops the instance.
    pub async fn cleanup(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        Ok(())
    }
}
