//! Throttling on every backend: per user and per client address, a
//! resource's own stricter limit, 429 with `Retry-After`, and counts
//! shared through Redis by two instances of a site.

mod common;

use common::{Category, Shop, bearer, site_with};
use estate::prelude::*;
use estate::test::{TestServer, each_backend};
use estate_api::throttle::Throttle;
use estate_api::{AllowAny, Api, Resource};

fn api() -> Api {
    Api::new()
        .default_permission(AllowAny)
        .throttle(Throttle::user("3/minute"))
        .throttle(Throttle::anon("2/minute"))
        .resource(Resource::<Category>::new("categories"))
        .resource(
            Resource::<Category>::new("strict")
                .throttle(Throttle::user("1/minute").scope("strict")),
        )
}

async fn get(server: &TestServer, path: &str, token: Option<&str>) -> (StatusCode, Option<String>) {
    let mut request = server.get(path);
    if let Some(token) = token {
        request = request.header("authorization", &bearer(token));
    }
    let response = request.send().await;
    if response.status == StatusCode::TOO_MANY_REQUESTS {
        assert_eq!(response.content_type(), Some("application/problem+json"));
        assert!(
            response.json()["detail"]
                .as_str()
                .unwrap()
                .starts_with("Request was throttled.")
        );
    }
    (
        response.status,
        response.header("retry-after").map(str::to_owned),
    )
}

#[tokio::test]
async fn users_and_addresses_are_throttled_separately() {
    each_backend(async |db| {
        let shop = Shop::start(db, api).await;
        let server = &shop.server;
        let (admin, plain) = (Some(shop.admin.as_str()), Some(shop.plain.as_str()));
        for _ in 0..2 {
            assert_eq!(
                get(server, "/api/categories/", None).await.0,
                StatusCode::OK
            );
        }
        let (status, retry) = get(server, "/api/categories/", None).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = retry.expect("Retry-After").parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        // Users count on their own: the address's limit is not theirs.
        for _ in 0..3 {
            assert_eq!(
                get(server, "/api/categories/", admin).await.0,
                StatusCode::OK
            );
        }
        assert_eq!(
            get(server, "/api/categories/", admin).await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            get(server, "/api/categories/", plain).await.0,
            StatusCode::OK
        );
        // A resource's own throttle replaces the API's.
        assert_eq!(get(server, "/api/strict/", plain).await.0, StatusCode::OK);
        assert_eq!(
            get(server, "/api/strict/", plain).await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            get(server, "/api/strict/", None).await.0,
            StatusCode::OK,
            "no anonymous limit there"
        );
        // The document says so.
        let document = server.get("/api/openapi.json").send().await.json();
        assert_eq!(
            document["paths"]["/api/strict/"]["get"]["responses"]["429"]["$ref"],
            "#/components/responses/Error429"
        );
    })
    .await;
}

#[tokio::test]
async fn instances_share_counts_through_redis() {
    let Some(redis) = estate::orm::testing::service(estate::orm::testing::REDIS) else {
        return;
    };
    each_backend(async |db| {
        let shop = Shop::start(db.clone(), api).await;
        // A fresh secret: a namespace of its own in Redis.
        let secret = format!("throttle-test-{}", estate::crypto::get_random_string(40));
        let instance = || {
            site_with(&db, api(), |settings| {
                settings
                    .set("secret_key", secret.as_str())
                    .set("api.throttle_redis_url", redis.as_str())
            })
        };
        let first = TestServer::start(instance()).await;
        let second = TestServer::start(instance()).await;
        let token = Some(shop.plain.as_str());
        assert_eq!(
            get(&first, "/api/categories/", token).await.0,
            StatusCode::OK
        );
        assert_eq!(
            get(&second, "/api/categories/", token).await.0,
            StatusCode::OK
        );
        assert_eq!(
            get(&first, "/api/categories/", token).await.0,
            StatusCode::OK
        );
        let (status, retry) = get(&second, "/api/categories/", token).await;
        assert_eq!(
            status,
            StatusCode::TOO_MANY_REQUESTS,
            "the fourth request, on either instance"
        );
        assert!(retry.is_some());
        // The single-process server counted nothing of this.
        assert_eq!(
            get(&shop.server, "/api/categories/", token).await.0,
            StatusCode::OK
        );
    })
    .await;
}
