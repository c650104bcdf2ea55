//! Limits on failed logins, per account and per client address (something
//! Django leaves to third-party packages): after too many failures in a
//! window, logins are refused with 429 until the window has passed. Counts
//! live in memory (one process) or in Redis (shared by every instance).

use std::time::Duration;

use crate::ratelimit::RateCounter;

/// The login limits of the `[auth]` settings: attempts are counted before
/// the password is checked, so concurrent guesses cannot slip through
/// between a check and a count; a successful login takes its attempt back.
pub struct LoginThrottle {
    counters: RateCounter,
    per_account: u32,
    per_address: u32,
    window: Duration,
}

fn address_key(address: &str) -> String {
    format!("address:{address}")
}

impl LoginThrottle {
    pub(crate) fn new(
        counters: RateCounter,
        per_account: u32,
        per_address: u32,
        window: Duration,
    ) -> Self {
        LoginThrottle {
            counters,
            per_account,
            per_address,
            window,
        }
    }

    /// Counts a login attempt for `account` (a key naming the account: the
    /// user's id when the username exists) from `address`.
    ///
    /// # Errors
    /// How long to wait, when this attempt is over a limit (it must be
    /// refused without checking the password).
    pub async fn attempt(&self, account: &str, address: Option<&str>) -> Result<(), Duration> {
        if self.per_account > 0
            && self
                .counters
                .hit(&format!("account:{account}"), self.window)
                .await
                .count
                > self.per_account
        {
            return Err(self.window);
        }
        if let Some(address) = address
            && self.per_address > 0
            && self
                .counters
                .hit(&address_key(address), self.window)
                .await
                .count
                > self.per_address
        {
            return Err(self.window);
        }
        Ok(())
    }

    /// A successful login: the account's count is cleared and the
    /// address's attempt taken back (one good password does not excuse
    /// guessing others).
    pub async fn succeeded(&self, account: &str, address: Option<&str>) {
        self.counters.clear(&format!("account:{account}")).await;
        if let Some(address) = address
            && self.per_address > 0
        {
            self.counters.take_back(&address_key(address)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accounts_and_addresses_are_limited_separately_and_recover() {
        let throttle = LoginThrottle::new(RateCounter::memory(), 3, 5, Duration::from_millis(200));
        for _ in 0..3 {
            assert!(throttle.attempt("ann", Some("10.0.0.1")).await.is_ok());
        }
        // The account is locked, from anywhere.
        assert!(throttle.attempt("ann", Some("10.0.0.2")).await.is_err());
        // Other accounts from the same address, until the address limit
        // (5 attempts counted there so far: 3 + bob + carl).
        assert!(throttle.attempt("bob", Some("10.0.0.1")).await.is_ok());
        assert!(throttle.attempt("carl", Some("10.0.0.1")).await.is_ok());
        assert!(throttle.attempt("dora", Some("10.0.0.1")).await.is_err());
        assert!(throttle.attempt("dora", Some("10.0.0.9")).await.is_ok());
        // A success clears the account and takes the address's attempt back.
        throttle.succeeded("dora", Some("10.0.0.9")).await;
        assert!(throttle.attempt("erin", Some("10.0.0.9")).await.is_ok());
        // After the window, everything recovers.
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(throttle.attempt("ann", Some("10.0.0.1")).await.is_ok());
    }
}
