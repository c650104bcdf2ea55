//! Model resources on every backend: create, read, update, delete; the
//! field errors of bad input (with nothing written); bodies of the wrong
//! kind; filters, search, ordering and both paginations; custom actions.

mod common;

use common::{Product, Shop, Status, bearer};
use estate::orm::chrono::Utc;
use estate::orm::{ForeignKey, Model as _};
use estate::prelude::*;
use estate::test::each_backend;
use estate_api::{Api, FieldErrors, Pagination, Resource};
use serde_json::{Value as Json, json};

fn api() -> Api {
    Api::new()
        .resource(
            Resource::<Product>::new("products")
                .read_only(&["created", "owner"])
                .on_create(|product, user| {
                    product.created = Utc::now();
                    product.owner = user.id().map(ForeignKey::new);
                })
                .computed("in_stock", json!({"type": "boolean"}), |p| {
                    json!(p.stock > 0)
                })
                .nested("category", &["id", "name"])
                .filter_fields(&["category", "stock", "name", "note", "status"])
                .search_fields(&["name", "category__name"])
                .ordering_fields(&["name", "stock", "price"])
                .validator(|product| {
                    if product.name.contains("forbidden") {
                        let mut errors = FieldErrors::new();
                        errors.insert("name".into(), vec!["That name is not allowed.".into()]);
                        return Err(errors);
                    }
                    Ok(())
                })
                .detail_action("restock", Method::POST, |request| async move {
                    let product = request.object.expect("a detail action has its row");
                    let amount = request
                        .body
                        .as_ref()
                        .and_then(|b| b.get("amount"))
                        .and_then(Json::as_i64)
                        .ok_or_else(|| {
                            estate_api::Problem::invalid_field(
                                "amount",
                                "A whole number is required.",
                            )
                        })?;
                    let stock = product.stock + i32::try_from(amount).unwrap_or(0);
                    Product::objects()
                        .filter(Product::ID.eq(product.id.get().unwrap()))
                        .update(&request.db, [Product::STOCK.set(stock)])
                        .await?;
                    Ok(json!({"stock": stock}))
                }),
        )
        .resource(
            Resource::<Product>::new("feed")
                .fields(&["id", "name", "created"])
                .actions(&estate_api::Action::READ_ONLY)
                .ordering(&["-created"])
                .pagination(Pagination::Cursor {
                    page_size: 2,
                    max_page_size: 3,
                }),
        )
        .resource(Resource::<common::Category>::new("categories").list_action(
            "explode",
            Method::GET,
            |_request| async { Err(estate::Error::msg("the disk is on fire").into()) },
        ))
}

#[tokio::test]
async fn create_read_update_delete() {
    each_backend(async |db| {
        let shop = Shop::start(db, api).await;
        let server = &shop.server;
        let auth = bearer(&shop.admin);

        let created = server
            .post("/api/products/")
            .header("authorization", &auth)
            .json(&json!({"name": "Hammer", "price": "12.50", "category": shop.tools, "note": null}))
            .send()
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        let body = created.json();
        let id = body["id"].as_i64().unwrap();
        assert_eq!(created.header("location"), Some(format!("/api/products/{id}/").as_str()));
        assert_eq!(body["name"], "Hammer");
        // Members come in the model's field order (as in DRF), then the
        // computed ones.
        let text = created.text();
        let at = |member: &str| text.find(&format!("\"{member}\":")).unwrap();
        assert!(at("id") < at("name") && at("name") < at("price") && at("owner") < at("tags"));
        assert!(at("tags") < at("in_stock"), "{text}");
        assert_eq!(body["price"], "12.50");
        assert_eq!(body["stock"], 0, "the default");
        assert_eq!(body["status"], "draft");
        assert_eq!(body["in_stock"], false);
        assert_eq!(body["category"], json!({"id": shop.tools, "name": "Tools"}));
        assert!(body["created"].as_str().unwrap().ends_with('Z'));
        // The row, with the server-set owner.
        let row = Product::objects().get(&shop.db, Product::ID.eq(id)).await.unwrap();
        assert_eq!(row.name, "Hammer");
        assert!(row.owner.is_some());
        assert_eq!(body["owner"], json!(*row.owner.as_ref().unwrap().id()));

        let read = server.get(&format!("/api/products/{id}/")).header("authorization", &auth).send().await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!(read.json(), body);

        // PUT replaces; fields left out keep their value when optional.
        let put = server
            .request(Method::PUT, &format!("/api/products/{id}/"))
            .header("authorization", &auth)
            .json(&json!({"name": "Big hammer", "price": "20", "category": shop.tools, "stock": 3, "created": "1999-01-01T00:00:00Z"}))
            .send()
            .await;
        assert_eq!(put.status, StatusCode::OK, "{}", put.text());
        assert_eq!(put.json()["name"], "Big hammer");
        assert_eq!(put.json()["price"], "20.00");
        assert_eq!(put.json()["in_stock"], true);
        assert_eq!(put.json()["created"], body["created"], "read-only: ignored");
        // PUT without a required field.
        let incomplete = server
            .request(Method::PUT, &format!("/api/products/{id}/"))
            .header("authorization", &auth)
            .json(&json!({"name": "x"}))
            .send()
            .await;
        assert_eq!(incomplete.status, StatusCode::BAD_REQUEST);
        assert_eq!(incomplete.json()["errors"]["price"], json!(["This field is required."]));

        // PATCH changes only what is sent.
        let patched = server
            .request(Method::PATCH, &format!("/api/products/{id}/"))
            .header("authorization", &auth)
            .json(&json!({"status": "published", "note": "sale"}))
            .send()
            .await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
        let row = Product::objects().get(&shop.db, Product::ID.eq(id)).await.unwrap();
        assert_eq!((row.name.as_str(), row.status, row.note.as_deref()), ("Big hammer", Status::Published, Some("sale")));

        // The list.
        shop.product("Saw", "8.00", 5, shop.tools).await;
        let list = server.get("/api/products/").header("authorization", &auth).send().await;
        assert_eq!(list.status, StatusCode::OK);
        let list = list.json();
        assert_eq!(list["count"], 2);
        assert_eq!(list["next"], Json::Null);
        let names: Vec<&str> = list["results"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Big hammer", "Saw"], "the model's ordering");

        // A custom action on one row.
        let restocked = server
            .post(&format!("/api/products/{id}/restock/"))
            .header("authorization", &auth)
            .json(&json!({"amount": 4}))
            .send()
            .await;
        assert_eq!(restocked.status, StatusCode::OK, "{}", restocked.text());
        assert_eq!(restocked.json(), json!({"stock": 7}));
        let bad = server
            .post(&format!("/api/products/{id}/restock/"))
            .header("authorization", &auth)
            .json(&json!({}))
            .send()
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        // No body at all: the action decides (here, a field error, not a 415).
        let bodiless = server
            .post(&format!("/api/products/{id}/restock/"))
            .header("authorization", &auth)
            .send()
            .await;
        assert_eq!(bodiless.status, StatusCode::BAD_REQUEST, "{}", bodiless.text());
        assert_eq!(bodiless.json()["errors"]["amount"][0], "A whole number is required.");

        // Delete; then it is gone.
        let deleted = server.request(Method::DELETE, &format!("/api/products/{id}/")).header("authorization", &auth).send().await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        assert_eq!(shop.count().await, 1);
        for path in [format!("/api/products/{id}/"), "/api/products/abc/".to_owned(), "/api/products/99999999999999999999999/".to_owned()] {
            let gone = server.get(&path).header("authorization", &auth).send().await;
            assert_eq!(gone.status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(gone.content_type(), Some("application/problem+json"));
            assert_eq!(gone.json()["detail"], "No Product matches the given query.");
        }
        // A category still used by a product cannot go: 409, still there.
        let protected = server.request(Method::DELETE, &format!("/api/categories/{}/", shop.tools)).header("authorization", &auth).send().await;
        assert_eq!(protected.status, StatusCode::CONFLICT, "{}", protected.text());
        assert_eq!(common::Category::objects().count(&shop.db).await.unwrap(), 2);
        // A method a route does not have: 405 with Allow, as JSON.
        let wrong = server.request(Method::DELETE, "/api/products/").header("authorization", &auth).send().await;
        assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(wrong.content_type(), Some("application/problem+json"));
        assert!(wrong.header("allow").is_some_and(|a| a.contains("GET") && a.contains("POST")), "{:?}", wrong.header("allow"));
    })
    .await;
}

#[tokio::test]
async fn bad_input_is_a_field_error_and_writes_nothing() {
    each_backend(async |db| {
        let shop = Shop::start(db, api).await;
        let server = &shop.server;
        let auth = bearer(&shop.admin);
        shop.product("Saw", "8.00", 5, shop.tools).await;
        let post = async |body: Json| {
            server
                .post("/api/products/")
                .header("authorization", &auth)
                .json(&body)
                .send()
                .await
        };
        let cases: Vec<(Json, &str, &str)> = vec![
            (
                json!({"price": "1", "category": shop.tools}),
                "name",
                "This field is required.",
            ),
            (
                json!({"name": "x".repeat(21), "price": "1", "category": shop.tools}),
                "name",
                "Ensure this field has no more than 20 characters.",
            ),
            (
                json!({"name": 5, "price": "1", "category": shop.tools}),
                "name",
                "Not a valid string.",
            ),
            (
                json!({"name": "a", "price": "lots", "category": shop.tools}),
                "price",
                "",
            ),
            (
                json!({"name": "a", "price": "1234567.891", "category": shop.tools}),
                "price",
                "",
            ),
            (
                json!({"name": "a", "price": "1", "category": shop.tools, "stock": "many"}),
                "stock",
                "",
            ),
            (
                json!({"name": "a", "price": "1", "category": shop.tools, "stock": null}),
                "stock",
                "This field may not be null.",
            ),
            (
                json!({"name": "a", "price": "1", "category": shop.tools, "status": "sold"}),
                "status",
                "\"sold\" is not a valid choice.",
            ),
            (
                json!({"name": "a", "price": "1", "category": shop.tools, "colour": "red"}),
                "colour",
                "Unknown field.",
            ),
            (
                json!({"name": "Saw", "price": "1", "category": shop.tools}),
                "name",
                "Product with this name already exists.",
            ),
            (
                json!({"name": "a", "price": "1", "category": 999_999}),
                "category",
                "Invalid pk - object does not exist.",
            ),
            (
                json!({"name": "forbidden thing", "price": "1", "category": shop.tools}),
                "name",
                "That name is not allowed.",
            ),
            (
                json!({"name": "nul\u{0}byte", "price": "1", "category": shop.tools}),
                "name",
                "Null characters are not allowed.",
            ),
        ];
        for (body, field, message) in cases {
            let response = post(body.clone()).await;
            assert_eq!(
                response.status,
                StatusCode::BAD_REQUEST,
                "{body}: {}",
                response.text()
            );
            assert_eq!(response.content_type(), Some("application/problem+json"));
            let errors = &response.json()["errors"][field];
            assert!(errors.is_array(), "{body}: {}", response.text());
            if !message.is_empty() {
                assert_eq!(errors[0], message, "{body}");
            }
        }
        assert_eq!(shop.count().await, 1, "nothing was written");

        // Bodies of the wrong kind.
        let text = server
            .post("/api/products/")
            .header("authorization", &auth)
            .header("content-type", "text/plain")
            .body("name=x")
            .send()
            .await;
        assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let broken = server
            .post("/api/products/")
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .body("{\"name\": ")
            .send()
            .await;
        assert_eq!(broken.status, StatusCode::BAD_REQUEST);
        assert!(
            broken.json()["detail"]
                .as_str()
                .unwrap()
                .starts_with("JSON parse error")
        );
        let array = post(json!([1, 2])).await;
        assert_eq!(array.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            array.json()["detail"],
            "Expected a JSON object, but got an array."
        );
        let html = server
            .get("/api/products/")
            .header("authorization", &auth)
            .header("accept", "text/html")
            .send()
            .await;
        assert_eq!(html.status, StatusCode::NOT_ACCEPTABLE);
        assert_eq!(html.content_type(), Some("application/problem+json"));
        // Too big a body: 413 before the handler reads it, as a problem.
        let huge = server
            .post("/api/products/")
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .body(format!("{{\"name\": \"{}\"}}", "x".repeat(3 * 1024 * 1024)))
            .send()
            .await;
        assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(huge.content_type(), Some("application/problem+json"));
        // A server error: 500 as a problem (the cause shown in DEBUG only).
        let broken = server
            .get("/api/categories/explode/")
            .header("authorization", &auth)
            .send()
            .await;
        assert_eq!(broken.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(broken.content_type(), Some("application/problem+json"));
        assert!(
            broken.text().contains("the disk is on fire"),
            "DEBUG: {}",
            broken.text()
        );
        assert_eq!(shop.count().await, 1);
    })
    .await;
}

#[tokio::test]
async fn filters_search_ordering_and_pages() {
    each_backend(async |db| {
        let shop = Shop::start(db, api).await;
        let server = &shop.server;
        let auth = bearer(&shop.admin);
        for (name, price, stock, category) in [
            ("Atlas", "30.00", 1, shop.books),
            ("Bible", "10.00", 2, shop.books),
            ("Chisel", "15.00", 3, shop.tools),
            ("Drill", "99.00", 4, shop.tools),
            ("Epic", "12.00", 5, shop.books),
        ] {
            shop.product(name, price, stock, category).await;
        }
        let names = async |query: &str| -> Vec<String> {
            let response = server
                .get(&format!("/api/products/?{query}"))
                .header("authorization", &auth)
                .send()
                .await;
            assert_eq!(
                response.status,
                StatusCode::OK,
                "{query}: {}",
                response.text()
            );
            response.json()["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            names(&format!("category={}", shop.tools)).await,
            ["Chisel", "Drill"]
        );
        assert_eq!(names("stock__gte=4").await, ["Drill", "Epic"]);
        assert_eq!(names("stock__lt=2").await, ["Atlas"]);
        assert_eq!(names("stock__in=1,3").await, ["Atlas", "Chisel"]);
        assert_eq!(names("name__istartswith=b").await, ["Bible"]);
        assert_eq!(names("note__isnull=true&stock=5").await, ["Epic"]);
        assert_eq!(
            names("search=TOOLS").await,
            ["Chisel", "Drill"],
            "through the category"
        );
        assert_eq!(names("search=tools%20dri").await, ["Drill"], "every word");
        assert_eq!(
            names("ordering=-stock").await,
            ["Epic", "Drill", "Chisel", "Bible", "Atlas"]
        );
        assert_eq!(
            names("ordering=price,name").await,
            ["Bible", "Epic", "Chisel", "Atlas", "Drill"]
        );

        // Pages: count, links, a capped size, 404 past the end.
        let page = server
            .get("/api/products/?page_size=2&page=2&ordering=name")
            .header("authorization", &auth)
            .send()
            .await
            .json();
        assert_eq!(page["count"], 5);
        assert_eq!(
            page["next"],
            "/api/products/?page_size=2&ordering=name&page=3"
        );
        assert_eq!(
            page["previous"],
            "/api/products/?page_size=2&ordering=name&page=1"
        );
        assert_eq!(page["results"].as_array().unwrap().len(), 2);
        let capped = server
            .get("/api/products/?page_size=100000")
            .header("authorization", &auth)
            .send()
            .await
            .json();
        assert_eq!(capped["results"].as_array().unwrap().len(), 5);
        for query in ["page=4&page_size=2", "page=0", "page=x"] {
            let response = server
                .get(&format!("/api/products/?{query}"))
                .header("authorization", &auth)
                .send()
                .await;
            assert_eq!(response.status, StatusCode::NOT_FOUND, "{query}");
            assert_eq!(response.json()["detail"], "Invalid page.");
        }

        // Mistakes are 400s that say what is accepted, never 500s.
        for (query, says) in [
            ("colour=red", "Unknown query parameter `colour`"),
            (
                "stock__icontains=1",
                "Unknown query parameter `stock__icontains`",
            ),
            ("stock=many", "Invalid value for `stock`"),
            ("stock__in=1,x", "Invalid value for `stock__in`"),
            ("note__isnull=maybe", "give true or false"),
            ("ordering=created", "Cannot order by `created`"),
            ("page_size=0", "Invalid `page_size`"),
            ("stock=1&stock=2", "given more than once"),
            ("search=nul%00", "Null characters are not allowed"),
        ] {
            let response = server
                .get(&format!("/api/products/?{query}"))
                .header("authorization", &auth)
                .send()
                .await;
            assert_eq!(
                response.status,
                StatusCode::BAD_REQUEST,
                "{query}: {}",
                response.text()
            );
            let detail = response.json()["detail"].as_str().unwrap_or("").to_owned();
            assert!(detail.contains(says), "{query}: {detail}");
        }

        // Cursor pages walk forward and back without gaps or repeats,
        // even when rows are added meanwhile.
        let mut seen = Vec::new();
        let mut url = "/api/feed/".to_owned();
        let mut previous_links = Vec::new();
        loop {
            let page = server.get(&url).header("authorization", &auth).send().await;
            assert_eq!(page.status, StatusCode::OK, "{url}: {}", page.text());
            let page = page.json();
            assert_eq!(page.get("count"), None);
            for row in page["results"].as_array().unwrap() {
                seen.push(row["name"].as_str().unwrap().to_owned());
            }
            if seen.len() == 2 {
                // A new row sorts first: it does not shift the next page.
                shop.product("Zebra", "1.00", 9, shop.books).await;
            }
            previous_links.push(page["previous"].clone());
            match page["next"].as_str() {
                Some(next) => url = next.to_owned(),
                None => break,
            }
        }
        assert_eq!(
            seen,
            ["Epic", "Drill", "Chisel", "Bible", "Atlas"],
            "newest first (-created)"
        );
        assert_eq!(previous_links[0], Json::Null);
        let back = server
            .get(previous_links[2].as_str().unwrap())
            .header("authorization", &auth)
            .send()
            .await
            .json();
        let back_names: Vec<&str> = back["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(back_names, ["Chisel", "Bible"]);
        let bad = server
            .get("/api/feed/?cursor=nonsense")
            .header("authorization", &auth)
            .send()
            .await;
        assert_eq!(bad.status, StatusCode::NOT_FOUND);
        let ordering = server
            .get("/api/feed/?ordering=name")
            .header("authorization", &auth)
            .send()
            .await;
        assert_eq!(
            ordering.status,
            StatusCode::BAD_REQUEST,
            "cursor lists have a fixed order"
        );
        // A read-only resource has no POST.
        let post = server
            .post("/api/feed/")
            .header("authorization", &auth)
            .json(&json!({}))
            .send()
            .await;
        assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    })
    .await;
}

#[tokio::test]
async fn many_to_many_fields_are_lists_of_keys() {
    each_backend(async |db| {
        let shop = Shop::start(db, api).await;
        let server = &shop.server;
        let auth = bearer(&shop.admin);
        let mut tags = Vec::new();
        for label in ["new", "sale", "eco"] {
            let mut tag = common::Tag { id: Auto::new(), label: label.into() };
            tag.save(&shop.db).await.unwrap();
            tags.push(tag.id.get().unwrap());
        }
        let created = server
            .post("/api/products/")
            .header("authorization", &auth)
            .json(&json!({"name": "Lamp", "price": "5", "category": shop.tools, "tags": [tags[1], tags[0], tags[1]]}))
            .send()
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        let id = created.json()["id"].as_i64().unwrap();
        assert_eq!(created.json()["tags"], json!([tags[0], tags[1]]), "smallest first, once each");
        // Replaced on PATCH; left alone when not sent.
        let patched = server
            .request(Method::PATCH, &format!("/api/products/{id}/"))
            .header("authorization", &auth)
            .json(&json!({"tags": [tags[2]]}))
            .send()
            .await;
        assert_eq!(patched.json()["tags"], json!([tags[2]]));
        let renamed = server
            .request(Method::PATCH, &format!("/api/products/{id}/"))
            .header("authorization", &auth)
            .json(&json!({"name": "Desk lamp"}))
            .send()
            .await;
        assert_eq!(renamed.json()["tags"], json!([tags[2]]));
        // A key to nothing: 400 on the field, and neither row nor links change.
        let before = shop.count().await;
        let bad = server
            .post("/api/products/")
            .header("authorization", &auth)
            .json(&json!({"name": "Ghost", "price": "5", "category": shop.tools, "tags": [tags[0], 999_999]}))
            .send()
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text());
        assert_eq!(bad.json()["errors"]["tags"][0], "Invalid pk - object does not exist.");
        assert_eq!(shop.count().await, before, "the row was rolled back with its links");
        for (tags_json, says) in [(json!("1"), "Expected a list of keys"), (json!(["x"]), "Invalid pk"), (json!([null]), "may not contain null")] {
            let response = server
                .request(Method::PATCH, &format!("/api/products/{id}/"))
                .header("authorization", &auth)
                .json(&json!({"tags": tags_json}))
                .send()
                .await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST);
            let message = response.json()["errors"]["tags"][0].as_str().unwrap().to_owned();
            assert!(message.contains(says), "{message}");
        }
        // Lists show every row's links.
        shop.product("Plain", "1.00", 1, shop.books).await;
        let list = server.get("/api/products/?ordering=name").header("authorization", &auth).send().await.json();
        let tags_of: Vec<&Json> = list["results"].as_array().unwrap().iter().map(|r| &r["tags"]).collect();
        assert_eq!(tags_of, [&json!([tags[2]]), &json!([])]);
        let document = server.get("/api/openapi.json").send().await.json();
        let schemas = &document["components"]["schemas"];
        assert_eq!(schemas["ProductRequest"]["properties"]["tags"]["type"], "array");
        // The second resource over Product has schemas of its own.
        assert_eq!(
            document["paths"]["/api/feed/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/PaginatedProductFeedList"
        );
        assert!(schemas["ProductFeed"]["properties"]["price"].is_null());
        assert!(schemas["Product"]["properties"]["price"].is_object());
    })
    .await;
}
