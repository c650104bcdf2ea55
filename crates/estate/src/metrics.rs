//! Prometheus metrics: a small registry and the text exposition format
//! (version 0.0.4), written by hand.
//!
//! Off by default. With `[metrics] enabled = true` the app serves
//! `metrics.path` (`/metrics`) and measures every request:
//!
//! - `estate_http_requests_total{method,status}`: requests answered (the
//!   method is one of `GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE`,
//!   `OPTIONS` or `OTHER`, so clients cannot grow the label set; paths are
//!   not labels);
//! - `estate_http_request_duration_seconds`: a histogram of the time until
//!   the response's headers were ready;
//! - `estate_http_requests_in_flight`: requests being handled now;
//! - `estate_db_pool_connections`, `estate_db_pool_idle_connections`,
//!   `estate_db_pool_max_connections`: the database pool.
//!
//! Apps add their own with [`Metrics::gauge_fn`], [`Metrics::counter_fn`]
//! and [`Metrics::family_fn`], usually in a startup hook; the values are
//! read when the endpoint is scraped:
//!
//! ```
//! use estate::metrics::Metrics;
//! use estate::prelude::*;
//!
//! fn tasks() -> AppModule {
//!     AppModule::new("tasks").on_startup(|startup| async move {
//!         // Present only when metrics are on.
//!         if let Some(metrics) = startup.get::<Metrics>() {
//!             metrics.gauge_fn("estate_tasks_queued", "Tasks waiting to run.", || 0.0);
//!         }
//!         Ok(startup)
//!     })
//! }
//! ```

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use http::{Method, StatusCode};

/// The upper bounds of the request duration histogram, in seconds
/// (Prometheus' default buckets).
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The method labels; anything else counts as `OTHER`.
const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER",
];

/// Statuses 100 to 599.
const STATUSES: usize = 500;

/// What a metric is, for its `# TYPE` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricKind {
    /// Only goes up (restarts at zero with the process).
    Counter,
    /// Goes up and down.
    Gauge,
}

impl MetricKind {
    fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
        }
    }
}

/// The samples of one metric family, filled in by a
/// [`Metrics::family_fn`] reader at each scrape.
#[derive(Debug, Default)]
pub struct Samples {
    lines: Vec<(String, f64)>,
}

impl Samples {
    /// Adds a sample with these labels (`&[("queue", "default")]`); label
    /// values are escaped.
    ///
    /// # Panics
    /// On an invalid label name (a developer's mistake).
    pub fn add(&mut self, labels: &[(&str, &str)], value: f64) {
        let mut text = String::new();
        if !labels.is_empty() {
            text.push('{');
            for (i, (name, value)) in labels.iter().enumerate() {
                assert!(
                    valid_name(name, false),
                    "invalid metric label name {name:?}: use letters, digits and underscores"
                );
                if i > 0 {
                    text.push(',');
                }
                let _ = write!(text, "{name}=\"{}\"", escape_label(value));
            }
            text.push('}');
        }
        self.lines.push((text, value));
    }
}

type Reader = Box<dyn Fn(&mut Samples) + Send + Sync>;

struct Family {
    name: String,
    help: String,
    kind: MetricKind,
    read: Reader,
}

/// The metrics registry: the built-in request measurements and the
/// metrics apps register. Cheap to clone (shared).
///
/// In a running app it is in the [`AppContext`](crate::context::AppContext)
/// (and a startup hook's `startup.get::<Metrics>()`) when `metrics.enabled`
/// is on, and absent otherwise.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    http: HttpMetrics,
    families: RwLock<Vec<Family>>,
}

struct HttpMetrics {
    in_flight: AtomicI64,
    /// Counts by method and status: `method * STATUSES + (status - 100)`.
    requests: Box<[AtomicU64]>,
    /// Per-bucket counts (not cumulative); the last is above every bound.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// An empty registry (the HTTP metrics at zero).
    pub fn new() -> Self {
        Metrics(Arc::new(Inner {
            http: HttpMetrics {
                in_flight: AtomicI64::new(0),
                requests: (0..METHODS.len() * STATUSES)
                    .map(|_| AtomicU64::new(0))
                    .collect(),
                buckets: std::array::from_fn(|_| AtomicU64::new(0)),
                sum_nanos: AtomicU64::new(0),
            },
            families: RwLock::new(Vec::new()),
        }))
    }

    /// Registers a gauge read from `read` at each scrape (a queue's length,
    /// a pool's size).
    ///
    /// # Panics
    /// On an invalid or already registered name (a developer's mistake,
    /// found at startup).
    pub fn gauge_fn(&self, name: &str, help: &str, read: impl Fn() -> f64 + Send + Sync + 'static) {
        self.family_fn(name, help, MetricKind::Gauge, move |samples| {
            samples.add(&[], read());
        });
    }

    /// Registers a counter read from `read` at each scrape (kept by its
    /// owner, e.g. in an `AtomicU64`). Prometheus names counters `..._total`.
    ///
    /// # Panics
    /// On an invalid or already registered name.
    pub fn counter_fn(
        &self,
        name: &str,
        help: &str,
        read: impl Fn() -> f64 + Send + Sync + 'static,
    ) {
        self.family_fn(name, help, MetricKind::Counter, move |samples| {
            samples.add(&[], read());
        });
    }

    /// Registers a metric with labels: `read` adds one sample per label set
    /// at each scrape (`estate_tasks{state="queued"}`, ...). Keep the label
    /// values few and known in advance.
    ///
    /// # Panics
    /// On an invalid or already registered name.
    pub fn family_fn(
        &self,
        name: &str,
        help: &str,
        kind: MetricKind,
        read: impl Fn(&mut Samples) + Send + Sync + 'static,
    ) {
        assert!(
            valid_name(name, true),
            "invalid metric name {name:?}: use letters, digits, underscores and colons, \
             not starting with a digit"
        );
        let mut families = self.0.families.write().unwrap_or_else(|e| e.into_inner());
        assert!(
            !name.starts_with("estate_http_") && !families.iter().any(|f| f.name == name),
            "the metric {name:?} is registered twice"
        );
        families.push(Family {
            name: name.to_owned(),
            help: help.to_owned(),
            kind,
            read: Box::new(read),
        });
    }

    /// Starts measuring a request: in flight until the probe is finished
    /// or dropped.
    pub(crate) fn request_started(&self) -> RequestProbe {
        self.0.http.in_flight.fetch_add(1, Ordering::Relaxed);
        RequestProbe {
            metrics: self.0.clone(),
            started: Instant::now(),
        }
    }

    /// Everything, in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let http = &self.0.http;
        let mut out = String::with_capacity(4096);
        header(
            &mut out,
            "estate_http_requests_total",
            "HTTP requests answered, by method and status.",
            MetricKind::Counter,
        );
        for (index, count) in http.requests.iter().enumerate() {
            let count = count.load(Ordering::Relaxed);
            if count > 0 {
                let method = METHODS[index / STATUSES];
                let status = index % STATUSES + 100;
                let _ = writeln!(
                    out,
                    "estate_http_requests_total{{method=\"{method}\",status=\"{status}\"}} {count}"
                );
            }
        }
        let name = "estate_http_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time until the response's headers were ready.\n# TYPE {name} histogram"
        );
        let mut cumulative = 0;
        for (i, bucket) in http.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let bound = BUCKETS.get(i).map_or("+Inf".to_owned(), |b| number(*b));
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let sum = http.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {}", number(sum));
        let _ = writeln!(out, "{name}_count {cumulative}");
        header(
            &mut out,
            "estate_http_requests_in_flight",
            "HTTP requests being handled.",
            MetricKind::Gauge,
        );
        let _ = writeln!(
            out,
            "estate_http_requests_in_flight {}",
            http.in_flight.load(Ordering::Relaxed)
        );
        let families = self.0.families.read().unwrap_or_else(|e| e.into_inner());
        for family in families.iter() {
            let mut samples = Samples::default();
            (family.read)(&mut samples);
            header(&mut out, &family.name, &family.help, family.kind);
            for (labels, value) in samples.lines {
                let _ = writeln!(out, "{}{labels} {}", family.name, number(value));
            }
        }
        out
    }
}

/// The database pool's gauges.
pub(crate) fn pool_gauges(metrics: &Metrics, database: &estate_orm::Database) {
    let db = database.clone();
    metrics.gauge_fn(
        "estate_db_pool_connections",
        "Open database connections, in use or idle.",
        move || f64::from(db.pool_status().size),
    );
    let db = database.clone();
    metrics.gauge_fn(
        "estate_db_pool_idle_connections",
        "Open database connections waiting for a query.",
        move || f64::from(db.pool_status().idle),
    );
    let db = database.clone();
    metrics.gauge_fn(
        "estate_db_pool_max_connections",
        "The most database connections the pool opens.",
        move || f64::from(db.pool_status().max_connections),
    );
}

/// One request being measured; see [`Metrics::request_started`].
pub(crate) struct RequestProbe {
    metrics: Arc<Inner>,
    started: Instant,
}

impl RequestProbe {
    /// Counts the answered request and its duration.
    pub(crate) fn finish(self, method: &Method, status: StatusCode) {
        let http = &self.metrics.http;
        let method = match *method {
            Method::GET => 0,
            Method::HEAD => 1,
            Method::POST => 2,
            Method::PUT => 3,
            Method::PATCH => 4,
            Method::DELETE => 5,
            Method::OPTIONS => 6,
            _ => 7,
        };
        let status = usize::from(status.as_u16()).clamp(100, 599) - 100;
        http.requests[method * STATUSES + status].fetch_add(1, Ordering::Relaxed);
        let elapsed = self.started.elapsed();
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        http.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        http.sum_nanos.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

impl Drop for RequestProbe {
    fn drop(&mut self) {
        // Finished or abandoned (the client went away): no longer in flight.
        self.metrics.http.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: MetricKind) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {}", kind.as_str());
}

/// A sample value as Prometheus reads it.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        value.to_string()
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*` for metric names; labels take no colons.
fn valid_name(name: &str, colons: bool) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || (colons && c == ':');
    !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) && name.chars().all(ok)
}

/// An address or network of `metrics.allowed_ips`: `10.0.0.5`, `::1`,
/// `10.0.0.0/8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IpNetwork {
    address: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// Parses `address` or `address/prefix`; `None` if malformed.
    pub(crate) fn parse(text: &str) -> Option<IpNetwork> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().ok()?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(IpNetwork { address, prefix })
    }

    /// Whether `ip` is in the network (IPv4-mapped IPv6 addresses count
    /// as IPv4).
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let keep = |bits: u32, prefix: u8| -> u128 {
            if prefix == 0 {
                0
            } else {
                (!0u128) << (bits - u32::from(prefix))
            }
        };
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = keep(32, self.prefix);
                (u128::from(u32::from(net)) & mask) == (u128::from(u32::from(ip)) & mask)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = keep(128, self.prefix);
                (u128::from(net) & mask) == (u128::from(ip) & mask)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let net = IpNetwork::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.0.0.1".parse().unwrap()));
        let one = IpNetwork::parse("::1").unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("127.0.0.1".parse().unwrap()));
        assert!(
            IpNetwork::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert_eq!(IpNetwork::parse("10.0.0.0/33"), None);
        assert_eq!(IpNetwork::parse("example.com"), None);
    }

    #[test]
    fn exposition_format() {
        let metrics = Metrics::new();
        metrics
            .request_started()
            .finish(&Method::GET, StatusCode::OK);
        metrics
            .request_started()
            .finish(&Method::from_bytes(b"BREW").unwrap(), StatusCode::NOT_FOUND);
        metrics.family_fn("estate_tasks", "Tasks.", MetricKind::Gauge, |s| {
            s.add(&[("state", "que\"ued")], 2.0);
        });
        let text = metrics.render();
        assert!(text.contains("estate_http_requests_total{method=\"GET\",status=\"200\"} 1\n"));
        assert!(text.contains("estate_http_requests_total{method=\"OTHER\",status=\"404\"} 1\n"));
        assert!(text.contains("estate_http_request_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("estate_http_request_duration_seconds_count 2\n"));
        assert!(text.contains("estate_http_requests_in_flight 0\n"));
        assert!(text.contains("# TYPE estate_tasks gauge\nestate_tasks{state=\"que\\\"ued\"} 2\n"));
    }

    #[test]
    #[should_panic(expected = "registered twice")]
    fn names_are_registered_once() {
        let metrics = Metrics::new();
        metrics.gauge_fn("a", "A.", || 1.0);
        metrics.gauge_fn("a", "A.", || 1.0);
    }
}
