//! Throttling: at most so many requests per user (or, for anonymous
//! callers, per client address) in a window; past it, 429 with
//! `Retry-After` (Django REST Framework's `UserRateThrottle` and
//! `AnonRateThrottle`).
//!
//! ```
//! use estate_api::{Api, throttle::Throttle};
//! let api = Api::new()
//!     .throttle(Throttle::user("1000/hour"))
//!     .throttle(Throttle::anon("60/minute"));
//! ```
//!
//! Counts live in Redis when `api.throttle_redis_url` is set (or sessions
//! are in Redis), so every instance of the site shares them; else in the
//! process. Redis being unreachable lets requests through (logged): a
//! throttle never turns an outage into refusals. The client address is the
//! connection's peer: behind a proxy, every anonymous caller shares the
//! proxy's address, so give anonymous callers a generous rate there.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use estate::ratelimit::RateCounter;
use http::request::Parts;

use crate::auth::ApiUser;
use crate::problem::Problem;

/// A number of requests per period: `"100/minute"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed in a period.
    pub requests: u32,
    /// The period.
    pub per: Duration,
}

impl std::str::FromStr for Rate {
    type Err = String;

    /// `N/second`, `N/minute`, `N/hour` or `N/day` (Django REST
    /// Framework's spelling; only the first letter of the period counts,
    /// so `N/s`, `N/min` and `N/h` work too).
    fn from_str(text: &str) -> Result<Rate, String> {
        let bad = || {
            format!(
                "invalid throttle rate {text:?}: write it like \"100/minute\" (per second, minute, hour or day)"
            )
        };
        let (count, period) = text.split_once('/').ok_or_else(bad)?;
        let requests: u32 = count.trim().parse().map_err(|_| bad())?;
        let seconds = match period.trim().chars().next() {
            Some('s') => 1,
            Some('m') => 60,
            Some('h') => 3600,
            Some('d') => 86_400,
            _ => return Err(bad()),
        };
        if requests == 0 {
            return Err(format!(
                "invalid throttle rate {text:?}: allow at least one request"
            ));
        }
        Ok(Rate {
            requests,
            per: Duration::from_secs(seconds),
        })
    }
}

/// Whose requests a [`Throttle`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    /// Authenticated users, each on their own.
    Users,
    /// Anonymous callers, by client address.
    Anonymous,
}

/// A limit on requests; add it to an [`Api`](crate::Api) or a
/// [`Resource`](crate::Resource).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Throttle {
    rate: Rate,
    who: Who,
    scope: String,
}

impl Throttle {
    /// At most `rate` requests per authenticated user.
    ///
    /// # Panics
    /// When `rate` is not like `"100/minute"` (at startup, with the fix).
    pub fn user(rate: &str) -> Throttle {
        Throttle::new(rate, Who::Users, "user")
    }

    /// At most `rate` requests per client address from anonymous callers.
    ///
    /// # Panics
    /// When `rate` is not like `"100/minute"`.
    pub fn anon(rate: &str) -> Throttle {
        Throttle::new(rate, Who::Anonymous, "anon")
    }

    fn new(rate: &str, who: Who, scope: &str) -> Throttle {
        Throttle {
            rate: rate.parse().unwrap_or_else(|err: String| panic!("{err}")),
            who,
            scope: scope.to_owned(),
        }
    }

    /// Counts separately from other throttles of the same kind (a stricter
    /// limit on one resource: `Throttle::user("10/minute").scope("uploads")`).
    /// Throttles with the same scope share their counts.
    #[must_use]
    pub fn scope(mut self, scope: &str) -> Throttle {
        scope.clone_into(&mut self.scope);
        self
    }

    /// The rate.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// The key counted for this caller, or `None` when the throttle does
    /// not apply to them.
    fn key(&self, parts: &Parts, user: &ApiUser) -> Option<String> {
        match (self.who, user.id()) {
            (Who::Users, Some(id)) => Some(format!("{}:user:{id}", self.scope)),
            (Who::Anonymous, None) => {
                let address = parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map_or_else(|| "unknown".to_owned(), |info| info.0.ip().to_string());
                Some(format!("{}:address:{address}", self.scope))
            }
            _ => None,
        }
    }
}

/// Where the counts live, provided at startup.
#[derive(Clone, Debug)]
pub(crate) struct ThrottleStore(pub(crate) RateCounter);

/// Counts this request against each throttle; the first over its rate
/// refuses it with 429 and how long to wait.
pub(crate) async fn check(
    throttles: &[Throttle],
    store: &ThrottleStore,
    parts: &Parts,
    user: &ApiUser,
) -> Result<(), Problem> {
    for throttle in throttles {
        let Some(key) = throttle.key(parts, user) else {
            continue;
        };
        let hit = store.0.hit(&key, throttle.rate.per).await;
        if hit.count > throttle.rate.requests {
            let wait = hit.resets_in.as_secs() + u64::from(hit.resets_in.subsec_nanos() > 0);
            return Err(Problem::too_many_requests(wait.max(1)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_like_django_rest_frameworks() {
        assert_eq!(
            "100/minute".parse::<Rate>().unwrap(),
            Rate {
                requests: 100,
                per: Duration::from_secs(60)
            }
        );
        assert_eq!("5/s".parse::<Rate>().unwrap().per, Duration::from_secs(1));
        assert_eq!(
            "2/hour".parse::<Rate>().unwrap().per,
            Duration::from_secs(3600)
        );
        assert_eq!(
            "1/day".parse::<Rate>().unwrap().per,
            Duration::from_secs(86_400)
        );
        for bad in ["100", "x/minute", "10/fortnight", "0/minute", "-1/s"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
        let err = "10/fortnight".parse::<Rate>().unwrap_err();
        assert!(err.contains("\"100/minute\""), "{err}");
    }
}
