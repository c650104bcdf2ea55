//! The cache framework: the API on the memory and Redis backends, a broken
//! Redis read as misses, locks, per-view caching and template fragments.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use estate::cache::{Cache, CacheError, CacheSettings, Expiry, MemoryCache, RedisCache};
use estate::prelude::*;
use estate::test::{REDIS, TestServer, service};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Question {
    id: i64,
    text: String,
}

/// A key prefix no other test (or run) uses, so tests sharing a Redis
/// stay apart.
fn unique_prefix(test: &str) -> String {
    format!("test-{test}-{}", estate::crypto::get_random_string(10))
}

/// The caches a test runs on: memory always, Redis when configured.
fn caches(test: &str) -> Vec<Cache> {
    let mut caches = vec![Cache::memory().with_key_prefix(unique_prefix(test))];
    if let Some(url) = service(REDIS) {
        let redis = RedisCache::new(&url).expect("a Redis URL");
        caches.push(Cache::new(redis).with_key_prefix(unique_prefix(test)));
    }
    caches
}

#[tokio::test]
async fn get_set_add_delete_and_many() {
    for cache in caches("basic") {
        let name = cache.backend_name();
        assert_eq!(
            cache.get::<String>("missing").await.unwrap(),
            None,
            "{name}"
        );
        let question = Question {
            id: 7,
            text: "What's new?".into(),
        };
        cache.set("q", &question, Expiry::Default).await.unwrap();
        assert_eq!(
            cache.get("q").await.unwrap(),
            Some(question.clone()),
            "{name}"
        );

        assert!(
            cache.add("added", &1, Expiry::Default).await.unwrap(),
            "{name}"
        );
        assert!(
            !cache.add("added", &2, Expiry::Default).await.unwrap(),
            "{name}"
        );
        assert_eq!(cache.get::<i64>("added").await.unwrap(), Some(1), "{name}");

        assert!(cache.delete("added").await.unwrap(), "{name}");
        assert!(!cache.delete("added").await.unwrap(), "{name}");
        assert_eq!(cache.get::<i64>("added").await.unwrap(), None, "{name}");

        cache
            .set_many([("a", 1), ("b", 2), ("c", 3)], Expiry::Default)
            .await
            .unwrap();
        let found = cache.get_many::<i64>(&["a", "c", "nope"]).await.unwrap();
        assert_eq!(found.len(), 2, "{name}");
        assert_eq!(found["a"], 1, "{name}");
        assert_eq!(found["c"], 3, "{name}");
        assert_eq!(
            cache.delete_many(&["a", "b", "nope"]).await.unwrap(),
            2,
            "{name}"
        );

        // A value stored as one type and read as another is a miss.
        cache.set("shape", &"text", Expiry::Default).await.unwrap();
        assert_eq!(
            cache.get::<Question>("shape").await.unwrap(),
            None,
            "{name}"
        );
        cache.clear().await.unwrap();
    }
}

#[tokio::test]
async fn incr_decr_and_get_or_set() {
    for cache in caches("incr") {
        let name = cache.backend_name();
        assert_eq!(cache.incr("hits", 1).await.unwrap(), None, "{name}");
        assert_eq!(
            cache.get::<i64>("hits").await.unwrap(),
            None,
            "{name}: incr creates nothing"
        );
        cache.set("hits", &5, Expiry::Default).await.unwrap();
        assert_eq!(cache.incr("hits", 2).await.unwrap(), Some(7), "{name}");
        assert_eq!(cache.decr("hits", 10).await.unwrap(), Some(-3), "{name}");
        assert_eq!(cache.get::<i64>("hits").await.unwrap(), Some(-3), "{name}");
        cache.set("word", &"five", Expiry::Default).await.unwrap();
        let err = cache.incr("word", 1).await.unwrap_err();
        assert!(
            matches!(err, CacheError::NotAnInteger { .. }),
            "{name}: {err}"
        );
        assert!(err.to_string().contains("\"word\""), "{err}");

        let calls = AtomicUsize::new(0);
        for _ in 0..3 {
            let value: String = cache
                .get_or_set("computed", Duration::from_secs(60), || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, estate::Error>("expensive".to_owned())
                })
                .await
                .unwrap();
            assert_eq!(value, "expensive");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{name}: computed once");
        let failed: estate::Result<String> = cache
            .get_or_set("failing", Expiry::Default, || async {
                Err(estate::Error::bad_request("no"))
            })
            .await;
        assert_eq!(failed.unwrap_err().status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            cache.get::<String>("failing").await.unwrap(),
            None,
            "{name}"
        );
        cache.clear().await.unwrap();
    }
}

#[tokio::test]
async fn entries_expire_and_touch_renews_them() {
    for cache in caches("expiry") {
        let name = cache.backend_name();
        cache
            .set("short", &1, Duration::from_millis(200))
            .await
            .unwrap();
        cache
            .set("renewed", &1, Duration::from_millis(200))
            .await
            .unwrap();
        cache.set("forever", &1, Expiry::Never).await.unwrap();
        cache.set("zero", &1, Expiry::Never).await.unwrap();
        // Zero seconds stores nothing, and removes what was there (Django).
        cache.set("zero", &2, Duration::ZERO).await.unwrap();
        assert_eq!(cache.get::<i64>("zero").await.unwrap(), None, "{name}");
        assert!(
            cache
                .touch("renewed", Duration::from_secs(60))
                .await
                .unwrap(),
            "{name}"
        );
        assert!(
            !cache
                .touch("absent", Duration::from_secs(60))
                .await
                .unwrap(),
            "{name}"
        );
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(
            cache.get::<i64>("short").await.unwrap(),
            None,
            "{name}: expired"
        );
        assert_eq!(
            cache.get::<i64>("renewed").await.unwrap(),
            Some(1),
            "{name}"
        );
        assert_eq!(
            cache.get::<i64>("forever").await.unwrap(),
            Some(1),
            "{name}"
        );
        // An expired key can be added again.
        assert!(
            cache.add("short", &2, Expiry::Default).await.unwrap(),
            "{name}"
        );
        cache.clear().await.unwrap();
    }
}

#[tokio::test]
async fn versions_and_prefixes_keep_entries_apart() {
    for cache in caches("versions") {
        let name = cache.backend_name();
        cache.set("page", &"v1", Expiry::Default).await.unwrap();
        assert_eq!(
            cache.version(2).get::<String>("page").await.unwrap(),
            None,
            "{name}"
        );
        assert_eq!(cache.incr_version("page").await.unwrap(), Some(2), "{name}");
        assert_eq!(cache.get::<String>("page").await.unwrap(), None, "{name}");
        assert_eq!(
            cache
                .version(2)
                .get::<String>("page")
                .await
                .unwrap()
                .as_deref(),
            Some("v1"),
            "{name}"
        );

        // Another prefix on the same store sees nothing, and clearing one
        // leaves the other alone.
        let other = cache.with_key_prefix(unique_prefix("versions-other"));
        other.set("page", &"other", Expiry::Default).await.unwrap();
        assert_eq!(other.version(2).get::<String>("page").await.unwrap(), None);
        cache.clear().await.unwrap();
        assert_eq!(
            cache.version(2).get::<String>("page").await.unwrap(),
            None,
            "{name}"
        );
        assert_eq!(
            other.get::<String>("page").await.unwrap().as_deref(),
            Some("other"),
            "{name}: another prefix survives clear()"
        );
        other.clear().await.unwrap();
    }
}

#[tokio::test]
async fn the_memory_cache_evicts_the_least_recently_used() {
    let cache = Cache::new(MemoryCache::new(2));
    cache.set("a", &1, Expiry::Default).await.unwrap();
    cache.set("b", &2, Expiry::Default).await.unwrap();
    assert_eq!(cache.get::<i64>("a").await.unwrap(), Some(1));
    cache.set("c", &3, Expiry::Default).await.unwrap();
    assert_eq!(
        cache.get::<i64>("b").await.unwrap(),
        None,
        "b was least recently used"
    );
    assert_eq!(cache.get::<i64>("a").await.unwrap(), Some(1));
    assert_eq!(cache.get::<i64>("c").await.unwrap(), Some(3));
}

#[tokio::test]
async fn locks_have_one_holder_and_expire() {
    for cache in caches("locks") {
        let name = cache.backend_name();
        let ttl = Duration::from_secs(30);
        let first = cache
            .lock("rebuild", ttl)
            .await
            .unwrap()
            .expect("free lock");
        assert!(
            cache.lock("rebuild", ttl).await.unwrap().is_none(),
            "{name}: held"
        );
        assert!(
            cache.lock("other", ttl).await.unwrap().is_some(),
            "{name}: other names are free"
        );
        assert!(first.release().await.unwrap(), "{name}");
        let second = cache.lock("rebuild", ttl).await.unwrap().expect("released");

        // lock_wait gets the lock once its holder lets go.
        let waiter = {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .lock_wait("rebuild", ttl, Duration::from_secs(10))
                    .await
                    .unwrap()
                    .is_some()
            })
        };
        tokio::time::sleep(Duration::from_millis(150)).await;
        drop(second); // released in the background
        assert!(waiter.await.unwrap(), "{name}: the waiter got the lock");

        // A lock past its lifetime is free; its late holder cannot release
        // the new holder's lock.
        let short = cache
            .lock("brief", Duration::from_millis(150))
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let taken = cache
            .lock("brief", ttl)
            .await
            .unwrap()
            .expect("expired lock is free");
        assert!(
            !short.release().await.unwrap(),
            "{name}: too late to release"
        );
        assert!(
            cache.lock("brief", ttl).await.unwrap().is_none(),
            "{name}: still held"
        );
        assert!(
            cache
                .lock_wait("brief", ttl, Duration::from_millis(120))
                .await
                .unwrap()
                .is_none()
        );
        taken.release().await.unwrap();
        cache.clear().await.unwrap();
    }
}

#[tokio::test]
async fn redis_entries_and_locks_are_shared_between_instances() {
    let Some(url) = service(REDIS) else { return };
    let prefix = unique_prefix("shared");
    let instance = || Cache::new(RedisCache::new(&url).unwrap()).with_key_prefix(prefix.clone());
    let (a, b) = (instance(), instance());
    a.set("greeting", &"hello from A", Expiry::Default)
        .await
        .unwrap();
    assert_eq!(
        b.get::<String>("greeting").await.unwrap().as_deref(),
        Some("hello from A")
    );
    a.set("counter", &0, Expiry::Default).await.unwrap();
    let mut tasks = Vec::new();
    for cache in [a.clone(), b.clone(), a.clone(), b.clone()] {
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                cache.incr("counter", 1).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        b.get::<i64>("counter").await.unwrap(),
        Some(100),
        "atomic incr"
    );
    let lock = a
        .lock("job", Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert!(
        b.lock("job", Duration::from_secs(30))
            .await
            .unwrap()
            .is_none()
    );
    lock.release().await.unwrap();
    assert!(
        b.lock("job", Duration::from_secs(30))
            .await
            .unwrap()
            .is_some()
    );
    a.clear().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_redis_reads_as_misses_or_fails_when_asked() {
    // Nothing listens on port 1.
    let cache = Cache::new(RedisCache::new("redis://127.0.0.1:1").unwrap());
    assert_eq!(cache.get::<i64>("k").await.unwrap(), None);
    cache.set("k", &1, Expiry::Default).await.unwrap();
    assert!(!cache.add("k", &1, Expiry::Default).await.unwrap());
    assert_eq!(cache.incr("k", 1).await.unwrap(), None);
    assert!(!cache.delete("k").await.unwrap());
    assert!(cache.get_many::<i64>(&["k"]).await.unwrap().is_empty());
    let value: i64 = cache
        .get_or_set("k", Expiry::Default, || async { Ok::<_, estate::Error>(3) })
        .await
        .unwrap();
    assert_eq!(value, 3, "the compute still answers");
    // A lock cannot be faked.
    let err = cache.lock("job", Duration::from_secs(1)).await.unwrap_err();
    assert!(
        matches!(
            err,
            CacheError::Unavailable {
                backend: "redis",
                ..
            }
        ),
        "{err}"
    );

    let strict = cache.with_raise_errors(true);
    let err = strict.get::<i64>("k").await.unwrap_err();
    assert!(
        err.to_string().contains("redis cache is unavailable"),
        "{err}"
    );
    assert!(strict.set("k", &1, Expiry::Default).await.is_err());
}

#[tokio::test]
async fn settings_choose_the_backend_and_name_missing_keys() {
    let settings: CacheSettings = toml::from_str("backend = \"dummy\"").unwrap();
    let dummy = Cache::from_settings(&settings).unwrap();
    dummy.set("k", &1, Expiry::Default).await.unwrap();
    assert_eq!(
        dummy.get::<i64>("k").await.unwrap(),
        None,
        "dummy keeps nothing"
    );

    let error =
        common::startup_error(common::production_app(|s| s.set("cache.backend", "redis"))).await;
    assert!(error.contains("cache.redis_url is not set"), "{error}");
    let error =
        common::startup_error(common::production_app(|s| s.set("cache.bakend", "redis"))).await;
    assert!(error.contains("cache.bakend"), "{error}");
    let error = common::startup_error(common::production_app(|s| {
        s.set("cache.backend", "memcached")
    }))
    .await;
    assert!(error.contains("cache.backend"), "{error}");
}

/// A site whose pages count how often their handler ran.
fn counting_site(
    calls: Arc<AtomicUsize>,
    extra: impl FnOnce(estate::settings::SettingsLoader) -> estate::settings::SettingsLoader,
) -> App {
    let page = {
        let calls = calls.clone();
        move |Query(q): Query<std::collections::HashMap<String, String>>| {
            let calls = calls.clone();
            async move {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                format!("render {n} for {:?}", q.get("page"))
            }
        }
    };
    let header_page = {
        let calls = calls.clone();
        move |Path(kind): Path<String>, headers: http::HeaderMap| {
            let calls = calls.clone();
            async move {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                let mut response = format!("{kind} {n}").into_response();
                let h = response.headers_mut();
                match kind.as_str() {
                    "private" => {
                        h.insert("cache-control", "private".parse().unwrap());
                    }
                    "cookie" => {
                        h.insert("set-cookie", "flavour=plain; Path=/".parse().unwrap());
                    }
                    "vary" => {
                        h.insert("vary", "Accept-Language".parse().unwrap());
                        let lang = headers
                            .get("accept-language")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("none")
                            .to_owned();
                        *response.body_mut() = format!("{kind} {n} {lang}").into();
                    }
                    "short" => {
                        h.insert("cache-control", "max-age=1".parse().unwrap());
                    }
                    "missing" => *response.status_mut() = StatusCode::NOT_FOUND,
                    _ => {}
                }
                response
            }
        }
    };
    common::production_app(extra)
        .route(
            "/page",
            get(page.clone())
                .post(page)
                .cache_page(Duration::from_secs(60)),
        )
        .route(
            "/kinds/{kind}",
            get(header_page).cache_page(Duration::from_secs(60)),
        )
}

#[tokio::test]
async fn cache_page_serves_stored_responses() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = TestServer::start(counting_site(calls.clone(), |s| s)).await;
    let first = server.get("/page?page=1").send().await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.text(), "render 1 for Some(\"1\")");
    assert_eq!(first.header("cache-control"), Some("max-age=60"));
    let second = server.get("/page?page=1").send().await;
    assert_eq!(
        second.text(),
        "render 1 for Some(\"1\")",
        "served from the cache"
    );
    assert!(second.header("x-request-id").is_some());
    assert_ne!(first.header("x-request-id"), second.header("x-request-id"));
    assert_eq!(second.header("x-content-type-options"), Some("nosniff"));
    let head = server.request(Method::HEAD, "/page?page=1").send().await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "HEAD is answered from the cache too"
    );

    // Another query string is another page; POST is never cached.
    assert_eq!(
        server.get("/page?page=2").send().await.text(),
        "render 2 for Some(\"2\")"
    );
    let posted = server.post("/page?page=1").form(&[]).send().await;
    assert_eq!(posted.text(), "render 3 for Some(\"1\")");
    assert_eq!(
        server.get("/page?page=1").send().await.text(),
        "render 1 for Some(\"1\")"
    );
    // Requests with credentials are not answered from (or stored in) the
    // shared cache unless the response is public.
    let authorized = server
        .get("/page?page=9")
        .header("authorization", "Bearer abc")
        .send()
        .await;
    assert_eq!(authorized.text(), "render 4 for Some(\"9\")");
    assert_eq!(
        server.get("/page?page=9").send().await.text(),
        "render 5 for Some(\"9\")"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn cache_page_stores_only_what_may_be_shared() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = TestServer::start(counting_site(calls.clone(), |s| s)).await;
    for kind in ["private", "cookie", "missing"] {
        let before = calls.load(Ordering::SeqCst);
        server.get(&format!("/kinds/{kind}")).send().await;
        server.get(&format!("/kinds/{kind}")).send().await;
        assert_eq!(
            calls.load(Ordering::SeqCst),
            before + 2,
            "a `{kind}` response must not be cached"
        );
    }
    // One copy per value of the headers named by Vary.
    let en = |server: &TestServer| {
        server
            .get("/kinds/vary")
            .header("accept-language", "en")
            .send()
    };
    let first = en(&server).await.text();
    let fr = server
        .get("/kinds/vary")
        .header("accept-language", "fr")
        .send()
        .await
        .text();
    assert!(
        first.ends_with(" en") && fr.ends_with(" fr"),
        "{first} / {fr}"
    );
    assert_eq!(en(&server).await.text(), first, "en served from the cache");

    // The response's own max-age wins over the route's duration.
    let short = server.get("/kinds/short").send().await.text();
    assert_eq!(server.get("/kinds/short").send().await.text(), short);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_ne!(
        server.get("/kinds/short").send().await.text(),
        short,
        "expired"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn cache_page_varies_on_the_session_cookie() {
    use estate::sessions::Session;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let app = common::production_app(|s| s.set("sessions.engine", "signed_cookies"))
        .app(estate::sessions::app())
        .route(
            "/me",
            get(move |session: Session| {
                let calls = counted.clone();
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let name: Option<String> = session.get("name");
                    format!("hello {}", name.unwrap_or_else(|| "stranger".into()))
                }
            })
            .cache_page(Duration::from_secs(60)),
        )
        .route(
            "/login/{name}",
            post(|session: Session, Path(name): Path<String>| async move {
                session.insert("name", &name)?;
                Ok::<_, estate::Error>("ok")
            }),
        );
    let server = TestServer::start(app).await;
    let ann = server.client();
    let bob = server.client();
    ann.post("/login/ann").form(&[]).send().await;
    bob.post("/login/bob").form(&[]).send().await;
    let page = ann.get("/me").send().await;
    assert_eq!(page.text(), "hello ann");
    assert!(page.header("vary").unwrap_or_default().contains("Cookie"));
    assert_eq!(
        bob.get("/me").send().await.text(),
        "hello bob",
        "never ann's page"
    );
    assert_eq!(ann.get("/me").send().await.text(), "hello ann");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "ann's second visit was cached"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_sharing_redis_share_cached_pages() {
    let Some(url) = service(REDIS) else { return };
    let prefix = unique_prefix("pages");
    let calls = Arc::new(AtomicUsize::new(0));
    let settings = |s: estate::settings::SettingsLoader| {
        s.set("cache.backend", "redis")
            .set("cache.redis_url", url.clone())
            .set("cache.key_prefix", prefix.clone())
    };
    let a = TestServer::start(counting_site(calls.clone(), settings)).await;
    let b = TestServer::start(counting_site(calls.clone(), settings)).await;
    // Behind a load balancer both instances see the site's one host name.
    let host = "127.0.0.1:8000";
    let from_a = a
        .get("/page?page=1")
        .header("host", host)
        .send()
        .await
        .text();
    let from_b = b
        .get("/page?page=1")
        .header("host", host)
        .send()
        .await
        .text();
    assert_eq!(from_a, from_b);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "B served A's cached page");
    let cache = a.context().get::<Cache>().unwrap().clone();
    assert_eq!(cache.backend_name(), "redis");
    cache.clear().await.unwrap();
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn pages_are_still_served_when_redis_is_down() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = TestServer::start(counting_site(calls.clone(), |s| {
        s.set("cache.backend", "redis")
            .set("cache.redis_url", "redis://127.0.0.1:1")
    }))
    .await;
    for n in 1..=2 {
        let page = server.get("/page?page=1").send().await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.text(), format!("render {n} for Some(\"1\")"));
    }
    server.shutdown().await;
}

static FRAGMENT_TEMPLATES: &[(&str, &str)] = &[(
    "fragment.html",
    "<p>{% call cache(60, \"sidebar\", user) %}{{ user }} saw {{ n }} <b>{{ html }}</b>{% endcall %}</p>",
)];

fn fragment_source() -> estate::templates::TemplateSource {
    estate::templates::TemplateSource {
        dir: "/nonexistent/templates".into(),
        embedded: FRAGMENT_TEMPLATES,
    }
}

#[test]
fn template_fragments_are_cached_per_vary_value() {
    use estate::templates::{Templates, context};
    let templates = Templates::from_sources(vec![fragment_source()], false);
    let render = |user: &str, n: i64| {
        templates
            .render_to_string(
                "fragment.html",
                context! { user => user, n => n, html => "<i>" },
            )
            .unwrap()
    };
    assert_eq!(render("ann", 1), "<p>ann saw 1 <b>&lt;i&gt;</b></p>");
    assert_eq!(
        render("ann", 2),
        "<p>ann saw 1 <b>&lt;i&gt;</b></p>",
        "cached, still escaped once"
    );
    assert_eq!(render("bob", 3), "<p>bob saw 3 <b>&lt;i&gt;</b></p>");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_fragments_use_the_apps_cache() {
    let Some(url) = service(REDIS) else { return };
    let prefix = unique_prefix("fragments");
    let app = common::production_app(|s| {
        s.set("cache.backend", "redis")
            .set("cache.redis_url", url.clone())
            .set("cache.key_prefix", prefix.clone())
    })
    .templates(fragment_source())
    .route(
        "/f/{n}",
        get(|Path(n): Path<i64>| async move {
            estate::templates::Template::render(
                "fragment.html",
                estate::templates::context! { user => "ann", n => n, html => "" },
            )
        }),
    );
    let server = TestServer::start(app).await;
    assert!(server.get("/f/1").send().await.text().contains("ann saw 1"));
    assert!(
        server.get("/f/2").send().await.text().contains("ann saw 1"),
        "from Redis"
    );
    let cache = server.context().get::<Cache>().unwrap().clone();
    let key = estate::cache::fragment_key("sidebar", &["ann"]);
    assert!(
        cache.delete(&key).await.unwrap(),
        "stored under fragment_key"
    );
    assert!(server.get("/f/3").send().await.text().contains("ann saw 3"));
    cache.clear().await.unwrap();
    server.shutdown().await;
}
