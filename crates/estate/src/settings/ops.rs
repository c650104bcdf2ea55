//! `[health]`, `[metrics]` and `[database]`: what operating a site in
//! production needs (probes, monitoring, the connection pool).

use std::time::Duration;

use super::{SecretKey, values};

/// `[health]`: the load balancer's probes, served by every app unless it
/// calls [`App::without_health_endpoints`](crate::App::without_health_endpoints).
#[derive(Clone, Debug, serde::Serialize)]
#[non_exhaustive]
pub struct HealthSettings {
    /// Answers `200 ok` while the process is up, touching nothing else
    /// (a liveness probe). Default `/healthz`.
    pub liveness_path: String,
    /// Answers `200 ok` when the database answers `SELECT 1` within
    /// `readiness_timeout` (or no database is configured), `503` with a
    /// short reason otherwise (a readiness probe). Default `/readyz`.
    pub readiness_path: String,
    /// How long the readiness probe waits for the database. Default 2s.
    #[serde(serialize_with = "values::serialize_duration")]
    pub readiness_timeout: Duration,
}

/// `[metrics]`: a Prometheus `/metrics` endpoint. Off by default: it tells
/// whoever reads it how busy the site is and how it is built.
#[derive(Clone, Debug, serde::Serialize)]
#[non_exhaustive]
pub struct MetricsSettings {
    /// Serve the metrics and measure requests. Default `false`.
    pub enabled: bool,
    /// Where the metrics are served. Default `/metrics`.
    pub path: String,
    /// When set, scrapes must send `Authorization: Bearer <token>` (else
    /// `401`). Default none.
    pub token: Option<SecretKey>,
    /// When not empty, only these client addresses may scrape (else
    /// `403`): addresses (`10.0.0.5`, `::1`) or networks (`10.0.0.0/8`).
    /// The address is the TCP peer's: behind a proxy, the proxy's.
    /// Default empty (any address).
    pub allowed_ips: Vec<String>,
}

/// `[database]`: the connection pool of `database_url`.
#[derive(Clone, Debug, serde::Serialize)]
#[non_exhaustive]
pub struct DatabaseSettings {
    /// Most connections open at once. Default 10.
    pub max_connections: u32,
    /// How long a query waits for a connection (a free one, or a new one
    /// while the database is unreachable) before the request fails with
    /// `503`. Default 3s.
    #[serde(serialize_with = "values::serialize_duration")]
    pub acquire_timeout: Duration,
}
