//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use estate::App;
use estate::settings::{Settings, SettingsLoader};

/// A strong key for production-mode tests.
pub const SECRET: &str = "k8F2pQ9vX7mN4rT6wY1zA3bC5dE0gH2jL4nP6sU8xZ0aB2cD4eF6gH8j";

/// Production settings (DEBUG off) that accept the test server's host.
pub fn production() -> SettingsLoader {
    SettingsLoader::new()
        .set("secret_key", SECRET)
        .set("allowed_hosts", vec!["127.0.0.1"])
}

/// A production app with extra code-level settings applied.
pub fn production_app(extra: impl FnOnce(SettingsLoader) -> SettingsLoader) -> App {
    App::with_settings(extra(production()).load().expect("valid test settings"))
}

/// A DEBUG app.
pub fn debug_app() -> App {
    App::with_settings(Settings::development())
}

/// The error an app fails to start with, as text.
pub async fn startup_error(app: App) -> String {
    match estate::test::TestServer::try_start(app).await {
        Ok(_) => panic!("the app started, but it should have failed"),
        Err(err) => err.to_string(),
    }
}

/// A DEBUG app with extra code-level settings applied.
pub fn debug_app_with(extra: impl FnOnce(SettingsLoader) -> SettingsLoader) -> App {
    App::with_settings(
        extra(SettingsLoader::new().set("debug", true))
            .load()
            .expect("valid test settings"),
    )
}
