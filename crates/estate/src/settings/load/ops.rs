//! Reading `[health]`, `[metrics]` and `[database]`.

use std::time::Duration;

use super::Typed;
use crate::settings::{
    DatabaseSettings, HealthSettings, MetricsSettings, SecretKey, SettingsError,
};

/// The keys read here (part of the core keys).
pub(super) const KEYS: &[&str] = &[
    "health.liveness_path",
    "health.readiness_path",
    "health.readiness_timeout",
    "metrics.enabled",
    "metrics.path",
    "metrics.token",
    "metrics.allowed_ips",
    "database.max_connections",
    "database.acquire_timeout",
];

/// The sections of those keys.
pub(super) const SECTIONS: &[&str] = &["health", "metrics", "database"];

impl Typed {
    pub(super) fn ops(
        &mut self,
    ) -> Result<(HealthSettings, MetricsSettings, DatabaseSettings), SettingsError> {
        let health = HealthSettings {
            liveness_path: self.endpoint_path("health.liveness_path", "/healthz")?,
            readiness_path: self.endpoint_path("health.readiness_path", "/readyz")?,
            readiness_timeout: self.duration("health.readiness_timeout", Duration::from_secs(2))?,
        };
        if health.readiness_timeout.is_zero() {
            return Err(self.invalid(
                "health.readiness_timeout",
                "0",
                "a duration above zero such as \"2s\"",
            ));
        }
        if health.liveness_path == health.readiness_path {
            return Err(self.invalid(
                "health.readiness_path",
                health.readiness_path,
                "a path other than health.liveness_path",
            ));
        }
        let metrics = MetricsSettings {
            enabled: self.bool("metrics.enabled", false)?,
            path: self.endpoint_path("metrics.path", "/metrics")?,
            token: self
                .string_opt("metrics.token")?
                .filter(|t| !t.is_empty())
                .map(SecretKey::new),
            allowed_ips: self.list("metrics.allowed_ips")?,
        };
        for network in &metrics.allowed_ips {
            if crate::metrics::IpNetwork::parse(network).is_none() {
                return Err(self.invalid(
                    "metrics.allowed_ips",
                    network.clone(),
                    "addresses or networks such as [\"127.0.0.1\", \"10.0.0.0/8\", \"::1\"]",
                ));
            }
        }
        let max_connections = self.uint("database.max_connections", 10)?;
        if max_connections == 0 || max_connections > u64::from(u32::MAX) {
            return Err(self.invalid(
                "database.max_connections",
                max_connections.to_string(),
                "a number of connections above zero such as 10",
            ));
        }
        let database = DatabaseSettings {
            max_connections: max_connections as u32,
            acquire_timeout: self.duration("database.acquire_timeout", Duration::from_secs(3))?,
        };
        if database.acquire_timeout.is_zero() {
            return Err(self.invalid(
                "database.acquire_timeout",
                "0",
                "a duration above zero such as \"3s\"",
            ));
        }
        Ok((health, metrics, database))
    }

    /// A URL path for a built-in endpoint: `/` and more, no query.
    fn endpoint_path(&mut self, key: &str, default: &str) -> Result<String, SettingsError> {
        let path = self.string(key, default)?;
        if !path.starts_with('/') || path.len() < 2 || path.contains(['?', '#', ' ']) {
            return Err(self.invalid(key, path, "a path such as \"/healthz\""));
        }
        Ok(path)
    }
}
