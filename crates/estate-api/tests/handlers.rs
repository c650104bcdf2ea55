//! Plain handlers in the API, on every backend: documented from their
//! `Json`, `Query` and `Path` types; the extractors' errors answered as
//! problem documents; the caller available as `ApiUser`.

mod common;

use common::{Category, Shop, bearer};
use estate::db::Db;
use estate::orm::Model as _;
use estate::prelude::*;
use estate::test::each_backend;
use estate_api::handler::Operation;
use estate_api::schemars::JsonSchema;
use estate_api::{Api, ApiError, ApiUser, Problem};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Filters of the count.
#[derive(Deserialize, JsonSchema)]
struct CountQuery {
    /// Only names starting with this.
    prefix: Option<String>,
    /// Count at most this many.
    limit: u32,
}

#[derive(Serialize, JsonSchema)]
struct CountAnswer {
    count: i64,
    by: String,
}

#[derive(Deserialize, JsonSchema)]
struct Rename {
    name: String,
}

async fn count(
    db: Db,
    user: ApiUser,
    Query(query): Query<CountQuery>,
) -> Result<Json<CountAnswer>, ApiError> {
    let rows = Category::objects().all(&*db).await?;
    let count = rows
        .iter()
        .filter(|c| {
            query
                .prefix
                .as_deref()
                .is_none_or(|p| c.name.starts_with(p))
        })
        .take(query.limit as usize)
        .count();
    let by = user
        .user()
        .map_or_else(|| "anonymous".to_owned(), |u| u.username.clone());
    Ok(Json(CountAnswer {
        count: count as i64,
        by,
    }))
}

async fn rename(
    db: Db,
    user: ApiUser,
    Path(id): Path<i64>,
    Json(body): Json<Rename>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !user.is_authenticated() {
        return Err(Problem::unauthorized("Log in to rename.", false).into());
    }
    let updated = Category::objects()
        .filter(Category::ID.eq(id))
        .update(&*db, [Category::NAME.set(body.name.clone())])
        .await?;
    if updated == 0 {
        return Err(Problem::not_found("No such category.").into());
    }
    Ok(Json(json!({"id": id, "name": body.name})))
}

fn api() -> Api {
    Api::new()
        .route(
            "/categories/count/",
            Operation::get(count).summary("Count categories"),
        )
        .route(
            "/categories/{id}/rename/",
            Operation::post(rename)
                .summary("Rename a category")
                .responses(&[404]),
        )
}

#[tokio::test]
async fn typed_handlers_answer_and_appear_in_the_document() {
    each_backend(async |db| {
        let shop = Shop::start(db, api).await;
        let server = &shop.server;
        let counted = server
            .get("/api/categories/count/?limit=10&prefix=B")
            .send()
            .await;
        assert_eq!(counted.status, StatusCode::OK, "{}", counted.text());
        assert_eq!(counted.json(), json!({"count": 1, "by": "anonymous"}));
        let as_user = server
            .get("/api/categories/count/?limit=1")
            .header("authorization", &bearer(&shop.plain))
            .send()
            .await;
        assert_eq!(as_user.json(), json!({"count": 1, "by": "plain"}));
        let bad_token = server
            .get("/api/categories/count/?limit=1")
            .header("authorization", "Bearer est_nope")
            .send()
            .await;
        assert_eq!(bad_token.status, StatusCode::UNAUTHORIZED);

        // The extractors' errors, as problem documents.
        for (query, status) in [
            ("", StatusCode::BAD_REQUEST),
            ("limit=-1", StatusCode::BAD_REQUEST),
        ] {
            let response = server
                .get(&format!("/api/categories/count/?{query}"))
                .send()
                .await;
            assert_eq!(response.status, status, "{query}");
            assert_eq!(
                response.content_type(),
                Some("application/problem+json"),
                "{query}"
            );
            assert!(
                response.json()["detail"]
                    .as_str()
                    .unwrap()
                    .contains("limit"),
                "{}",
                response.text()
            );
        }
        let path = format!("/api/categories/{}/rename/", shop.books);
        let auth = bearer(&shop.admin);
        let renamed = server
            .post(&path)
            .header("authorization", &auth)
            .json(&json!({"name": "Novels"}))
            .send()
            .await;
        assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text());
        assert_eq!(
            Category::objects()
                .get(&shop.db, Category::ID.eq(shop.books))
                .await
                .unwrap()
                .name,
            "Novels"
        );
        for (body, content_type, status) in [
            ("{\"name\": ", "application/json", StatusCode::BAD_REQUEST),
            (
                "{\"title\": \"x\"}",
                "application/json",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "name=x",
                "application/x-www-form-urlencoded",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
        ] {
            let response = server
                .post(&path)
                .header("authorization", &auth)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await;
            assert_eq!(response.status, status, "{body}");
            assert_eq!(
                response.content_type(),
                Some("application/problem+json"),
                "{body}"
            );
        }
        let missing = server
            .post("/api/categories/999999/rename/")
            .header("authorization", &auth)
            .json(&json!({"name": "x"}))
            .send()
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        let not_a_key = server
            .post("/api/categories/abc/rename/")
            .header("authorization", &auth)
            .json(&json!({"name": "x"}))
            .send()
            .await;
        assert_eq!(not_a_key.status, StatusCode::NOT_FOUND);
        assert_eq!(not_a_key.content_type(), Some("application/problem+json"));

        // The document, from the types.
        let document = server.get("/api/openapi.json").send().await.json();
        let get = &document["paths"]["/api/categories/count/"]["get"];
        assert_eq!(get["summary"], "Count categories");
        let parameters = get["parameters"].as_array().unwrap();
        let limit = parameters.iter().find(|p| p["name"] == "limit").unwrap();
        assert_eq!(limit["in"], "query");
        assert_eq!(limit["required"], true);
        assert_eq!(limit["schema"]["minimum"], 0);
        let prefix = parameters.iter().find(|p| p["name"] == "prefix").unwrap();
        assert_eq!(prefix["required"], false);
        assert_eq!(prefix["description"], "Only names starting with this.");
        assert_eq!(
            get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/CountAnswer"
        );
        assert!(get["responses"]["400"].is_object() && get["responses"]["401"].is_object());
        let answer = &document["components"]["schemas"]["CountAnswer"];
        assert_eq!(answer["properties"]["count"]["type"], "integer");
        let post = &document["paths"]["/api/categories/{id}/rename/"]["post"];
        assert_eq!(post["parameters"][0]["name"], "id");
        assert_eq!(post["parameters"][0]["in"], "path");
        assert_eq!(post["parameters"][0]["schema"]["type"], "integer");
        assert_eq!(
            post["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Rename"
        );
        for status in ["400", "404", "413", "415", "422", "500"] {
            assert!(post["responses"][status].is_object(), "{status}");
        }
    })
    .await;
}
