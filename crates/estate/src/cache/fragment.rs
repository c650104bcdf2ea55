//! Template fragment caching: Django's `{% cache %}` tag, as a call block.
//!
//! ```jinja
//! {% call cache(600, "sidebar", user.id) %}
//!   ... expensive to render ...
//! {% endcall %}
//! ```
//!
//! The arguments are Django's: the lifetime in seconds (`none` for no
//! expiry), the fragment's name, then any values the fragment varies on
//! (one cached copy per distinct combination). The key is
//! `template.cache.{name}.{hash of the values}`, so
//! [`fragment_key`] can delete it from code.
//!
//! Templates render synchronously; with Redis the lookup waits for Redis
//! (`block_in_place`, on the multi-threaded runtime `App::run` uses). On a
//! single-threaded runtime only the memory cache can be read from a
//! template; with Redis the fragment is then rendered every time.

use std::future::Future;
use std::time::Duration;

use futures_util::FutureExt as _;
use minijinja::value::{Kwargs, Rest, Value};
use minijinja::{Environment, Error, ErrorKind, State};
use sha2::Digest as _;

use super::{Cache, Expiry};

/// The cache key of a fragment, as the template tag builds it: delete it
/// with `cache.delete(&fragment_key("sidebar", &["7"]))` after a change.
pub fn fragment_key(name: &str, vary_on: &[&str]) -> String {
    let joined = vary_on.join(":");
    let digest = sha2::Sha256::digest(joined.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("template.cache.{name}.{hex}")
}

/// Runs a cache future from synchronous template code: at once when it is
/// ready at once (the memory cache), else by blocking this worker thread on
/// the multi-threaded runtime; `None` when neither is possible.
fn run_now<T>(future: impl Future<Output = T>) -> Option<T> {
    let mut future = std::pin::pin!(future);
    if let Some(value) = future.as_mut().now_or_never() {
        return Some(value);
    }
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    if runtime.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
        return None;
    }
    Some(tokio::task::block_in_place(|| runtime.block_on(future)))
}

/// Adds the `cache(...)` function to a template environment.
pub(crate) fn register(env: &mut Environment<'static>, cache: Cache) {
    env.add_function(
        "cache",
        move |state: &mut State<'_, '_>, timeout: Value, name: String, vary_on: Rest<Value>, kwargs: Kwargs| {
            let caller: Value = kwargs.get("caller").map_err(|_| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    "cache(...) wraps a fragment: write {% call cache(600, \"name\") %}...{% endcall %}",
                )
            })?;
            kwargs.assert_all_used()?;
            let expiry = if timeout.is_none() {
                Expiry::Never
            } else {
                let seconds = u64::try_from(timeout.clone()).map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        format!(
                            "cache(): the first argument is the lifetime in seconds (or none), \
                             not {timeout}"
                        ),
                    )
                })?;
                Expiry::After(Duration::from_secs(seconds))
            };
            let values: Vec<String> = vary_on.iter().map(ToString::to_string).collect();
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            let key = fragment_key(&name, &values);
            if let Some(Ok(Some(bytes))) = run_now(cache.get_bytes(&key)) {
                if let Ok(html) = String::from_utf8(bytes) {
                    return Ok(Value::from_safe_string(html));
                }
            }
            let rendered = caller.call(state, &[])?;
            let html = rendered.to_string();
            // A failure to store only costs the next render.
            let _ = run_now(cache.set_bytes(&key, html.as_bytes(), expiry));
            Ok(Value::from_safe_string(html))
        },
    );
}

#[cfg(test)]
mod tests {
    use super::fragment_key;

    #[test]
    fn fragment_keys_vary_on_the_values() {
        assert_ne!(fragment_key("side", &["1"]), fragment_key("side", &["2"]));
        assert_ne!(fragment_key("side", &[]), fragment_key("other", &[]));
        assert!(fragment_key("side", &["1"]).starts_with("template.cache.side."));
    }
}
