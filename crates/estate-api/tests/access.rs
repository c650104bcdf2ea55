//! Who may call, on every backend: each permission policy, token and
//! session authentication (CSRF enforced on the session), the `scope` of
//! rows a caller sees; the OpenAPI document, the docs page and the
//! `createtoken` and `openapi` commands.

mod common;

use common::{Category, PASSWORD, Product, Shop, bearer, command, site};
use estate::auth::{Permission as AuthPermission, User};
use estate::orm::Model as _;
use estate::prelude::*;
use estate::test::each_backend;
use estate_api::permissions::{PermissionRequest, permission_fn};
use estate_api::{
    AllowAny, Api, ApiToken, IsAuthenticated, IsAuthenticatedOrReadOnly, ModelPermissions, Resource,
};
use serde_json::json;

fn api() -> Api {
    let categories = |name: &str| Resource::<Category>::new(name);
    Api::new()
        .title("Shop")
        .resource(categories("open").permission(AllowAny))
        .resource(categories("members").permission(IsAuthenticated))
        .resource(categories("readable").permission(IsAuthenticatedOrReadOnly))
        .resource(categories("managed")) // the default: ModelPermissions
        .resource(categories("viewers").permission(ModelPermissions::view_required()))
        .resource(
            categories("weekdays").permission(
                permission_fn(|request: &PermissionRequest<'_>| {
                    request.is_read() || request.user.user().is_some_and(|u| u.username == "plain")
                })
                .anonymous_reads(),
            ),
        )
        .resource(
            Resource::<Product>::new("mine")
                .fields(&["id", "name", "owner"])
                .actions(&estate_api::Action::READ_ONLY)
                .scope(|rows, user| rows.filter(Product::OWNER.eq(user.id().unwrap_or(0))))
                .permission(IsAuthenticated),
        )
}

#[tokio::test]
async fn each_permission_policy() {
    each_backend(async |db| {
        let shop = Shop::start(db, api).await;
        let server = &shop.server;
        let status = async |method: Method, path: &str, token: Option<&str>| {
            let mut request = server.request(method.clone(), path);
            if let Some(token) = token {
                request = request.header("authorization", &bearer(token));
            }
            if method == Method::POST {
                request = request.json(&json!({"name": format!("n{}", rand_suffix())}));
            }
            let response = request.send().await;
            if response.status == StatusCode::UNAUTHORIZED {
                assert_eq!(
                    response.header("www-authenticate"),
                    Some("Bearer"),
                    "{path}"
                );
            }
            response.status
        };
        let (admin, plain) = (Some(shop.admin.as_str()), Some(shop.plain.as_str()));
        use StatusCode as S;
        for (path, anonymous_get, anonymous_post, plain_get, plain_post, admin_post) in [
            (
                "/api/open/",
                S::OK,
                S::CREATED,
                S::OK,
                S::CREATED,
                S::CREATED,
            ),
            (
                "/api/members/",
                S::UNAUTHORIZED,
                S::UNAUTHORIZED,
                S::OK,
                S::CREATED,
                S::CREATED,
            ),
            (
                "/api/readable/",
                S::OK,
                S::UNAUTHORIZED,
                S::OK,
                S::CREATED,
                S::CREATED,
            ),
            (
                "/api/managed/",
                S::UNAUTHORIZED,
                S::UNAUTHORIZED,
                S::OK,
                S::FORBIDDEN,
                S::CREATED,
            ),
            (
                "/api/viewers/",
                S::UNAUTHORIZED,
                S::UNAUTHORIZED,
                S::FORBIDDEN,
                S::FORBIDDEN,
                S::CREATED,
            ),
            (
                "/api/weekdays/",
                S::OK,
                S::UNAUTHORIZED,
                S::OK,
                S::CREATED,
                S::FORBIDDEN,
            ),
        ] {
            // Anonymous POSTs carry no session, and the test client's CSRF pair.
            assert_eq!(
                status(Method::GET, path, None).await,
                anonymous_get,
                "anonymous GET {path}"
            );
            assert_eq!(
                status(Method::POST, path, None).await,
                anonymous_post,
                "anonymous POST {path}"
            );
            assert_eq!(
                status(Method::GET, path, plain).await,
                plain_get,
                "plain GET {path}"
            );
            assert_eq!(
                status(Method::POST, path, plain).await,
                plain_post,
                "plain POST {path}"
            );
            assert_eq!(
                status(Method::POST, path, admin).await,
                admin_post,
                "admin POST {path}"
            );
        }

        // Model permissions given to the plain user, directly: now allowed.
        let add = AuthPermission::objects()
            .get(&shop.db, AuthPermission::CODENAME.eq("add_category"))
            .await
            .unwrap();
        let plain_id = shop.plain_user.id.get().unwrap();
        estate::orm::set_links(
            &shop.db,
            User::META.many_to_many("user_permissions").unwrap(),
            estate::db::Value::I64(plain_id),
            vec![add.pk_value()],
        )
        .await
        .unwrap();
        assert_eq!(
            status(Method::POST, "/api/managed/", plain).await,
            S::CREATED
        );
        let denied = server
            .request(Method::DELETE, &format!("/api/managed/{}/", shop.books))
            .header("authorization", &bearer(&shop.plain))
            .send()
            .await;
        assert_eq!(denied.status, S::FORBIDDEN, "no delete_category");
        assert_eq!(
            denied.json()["detail"],
            "You do not have permission to perform this action."
        );

        // The scope: each user sees only their own rows; others' are 404.
        let mine = shop.product("Mine", "1.00", 1, shop.books).await;
        let mut row = Product::objects()
            .get(&shop.db, Product::ID.eq(mine))
            .await
            .unwrap();
        row.owner = Some(estate::orm::ForeignKey::new(plain_id));
        row.save(&shop.db).await.unwrap();
        shop.product("Theirs", "1.00", 1, shop.books).await;
        let list = server
            .get("/api/mine/")
            .header("authorization", &bearer(&shop.plain))
            .send()
            .await
            .json();
        assert_eq!(list["count"], 1);
        assert_eq!(list["results"][0]["name"], "Mine");
        let other = server
            .get("/api/mine/")
            .header("authorization", &bearer(&shop.admin))
            .send()
            .await
            .json();
        assert_eq!(other["count"], 0);
        let hidden = server
            .get(&format!("/api/mine/{mine}/"))
            .header("authorization", &bearer(&shop.admin))
            .send()
            .await;
        assert_eq!(hidden.status, S::NOT_FOUND);
    })
    .await;
}

fn rand_suffix() -> String {
    estate::crypto::get_random_string(8)
}

#[tokio::test]
async fn tokens_and_sessions_authenticate() {
    each_backend(async |db| {
        let shop = Shop::start(db, api).await;
        let server = &shop.server;
        let whoami = async |header: Option<&str>| {
            let mut request = server.get("/api/members/");
            if let Some(header) = header {
                request = request.header("authorization", header);
            }
            let response = request.send().await;
            (
                response.status,
                response.header("www-authenticate").map(str::to_owned),
            )
        };
        assert_eq!(whoami(Some(&bearer(&shop.plain))).await.0, StatusCode::OK);
        assert_eq!(
            whoami(Some(&format!("bearer   {}", shop.plain))).await.0,
            StatusCode::OK,
            "scheme case and spaces"
        );
        let invalid = (
            StatusCode::UNAUTHORIZED,
            Some("Bearer error=\"invalid_token\"".to_owned()),
        );
        assert_eq!(whoami(Some("Bearer est_not-a-real-token")).await, invalid);
        assert_eq!(whoami(Some("Bearer ")).await, invalid);
        assert_eq!(
            whoami(Some("Basic YWRtaW46cHc=")).await.0,
            StatusCode::UNAUTHORIZED
        );

        // Deactivated user, then a deleted token: refused.
        User::objects()
            .filter(User::USERNAME.eq("plain"))
            .update(&shop.db, [User::IS_ACTIVE.set(false)])
            .await
            .unwrap();
        assert_eq!(whoami(Some(&bearer(&shop.plain))).await, invalid);
        ApiToken::objects().delete(&shop.db).await.unwrap();
        assert_eq!(whoami(Some(&bearer(&shop.admin))).await, invalid);
        // Only the digest is stored.
        let (token, key) = ApiToken::create(
            &shop.db,
            &User::objects()
                .get(&shop.db, User::USERNAME.eq("admin"))
                .await
                .unwrap(),
            "again",
        )
        .await
        .unwrap();
        assert!(
            !token.key_digest.contains(&key[4..])
                && key.starts_with("est_")
                && token.shown == key[..8]
        );
        assert_eq!(whoami(Some(&bearer(&key))).await.0, StatusCode::OK);

        // The session: logged in through the site, the API knows the user;
        // writes need the CSRF token, as for any form.
        let client = server.client();
        let login = client
            .post("/login")
            .form(&[("username", "admin"), ("password", PASSWORD)])
            .send()
            .await;
        assert_eq!(login.text(), "logged in");
        let listed = client.get("/api/members/").send().await;
        assert_eq!(listed.status, StatusCode::OK);
        let forged = client
            .post("/api/members/")
            .without_csrf_token()
            .json(&json!({"name": "Forged"}))
            .send()
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(forged.content_type(), Some("application/problem+json"));
        assert!(
            !Category::objects()
                .filter(Category::NAME.eq("Forged"))
                .exists(&shop.db)
                .await
                .unwrap()
        );
        let made = client
            .post("/api/members/")
            .json(&json!({"name": "Session-made"}))
            .send()
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
        // A bearer token skips the CSRF check, and is then all that counts.
        let token_post = client
            .post("/api/members/")
            .without_csrf_token()
            .header("authorization", &bearer(&key))
            .json(&json!({"name": "Token-made"}))
            .send()
            .await;
        assert_eq!(token_post.status, StatusCode::CREATED);
        let bad_token = client
            .post("/api/members/")
            .without_csrf_token()
            .header("authorization", "Bearer est_wrong")
            .json(&json!({"name": "Nope"}))
            .send()
            .await;
        assert_eq!(
            bad_token.status,
            StatusCode::UNAUTHORIZED,
            "no fall-back to the session"
        );
        // Another scheme does not skip CSRF.
        let basic = client
            .post("/api/open/")
            .without_csrf_token()
            .header("authorization", "Basic YWRtaW46cHc=")
            .json(&json!({"name": "Basic"}))
            .send()
            .await;
        assert_eq!(basic.status, StatusCode::FORBIDDEN);
    })
    .await;
}

#[tokio::test]
async fn document_docs_page_and_commands() {
    each_backend(async |db| {
        let shop = Shop::start(db.clone(), api).await;
        let server = &shop.server;
        let document = server.get("/api/openapi.json").send().await;
        assert_eq!(document.status, StatusCode::OK);
        assert_eq!(document.content_type(), Some("application/json"));
        let document = document.json();
        assert_eq!(document["openapi"], "3.1.0");
        assert_eq!(document["info"]["title"], "Shop");
        let list = &document["paths"]["/api/open/"]["get"];
        assert_eq!(
            list["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/PaginatedCategoryList"
        );
        assert!(
            list["security"].as_array().unwrap().contains(&json!({})),
            "anonymous may read"
        );
        let managed = &document["paths"]["/api/managed/"]["post"];
        assert!(!managed["security"].as_array().unwrap().contains(&json!({})));
        assert_eq!(
            document["components"]["schemas"]["Category"]["properties"]["name"],
            json!({"type": "string", "maxLength": 50})
        );
        assert_eq!(
            document["components"]["schemas"]["CategoryRequest"]["required"],
            json!(["name"])
        );
        assert_eq!(
            document["components"]["securitySchemes"]["bearerAuth"]["scheme"],
            "bearer"
        );
        assert!(document["paths"]["/api/mine/{pk}/"]["get"].is_object());
        let weekdays = &document["paths"]["/api/weekdays/"];
        assert!(
            weekdays["get"]["security"]
                .as_array()
                .unwrap()
                .contains(&json!({}))
        );
        assert!(
            !weekdays["post"]["security"]
                .as_array()
                .unwrap()
                .contains(&json!({}))
        );
        assert_eq!(
            document["components"]["schemas"]["CategoryRequest"]["additionalProperties"],
            false
        );
        // Unknown paths under the API answer in its own error shape.
        let unknown = server.get("/api/nothing/here/").send().await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert_eq!(unknown.content_type(), Some("application/problem+json"));
        assert!(
            document["paths"]["/api/mine/{pk}/"]["delete"].is_null(),
            "read-only resource"
        );

        let page = server.get("/api/docs/").send().await;
        assert_eq!(page.status, StatusCode::OK);
        let html = page.text();
        assert!(
            html.contains("data-spec-url=\"/api/openapi.json\"")
                && html.contains("/api/docs/assets/swagger-ui-bundle.js"),
            "{html}"
        );
        let script = server
            .get("/api/docs/assets/swagger-ui-bundle.js")
            .send()
            .await;
        assert_eq!(script.status, StatusCode::OK);
        assert!(
            script
                .content_type()
                .unwrap()
                .starts_with("text/javascript")
        );
        assert_eq!(
            server
                .get("/api/docs/assets/..%2FCargo.toml")
                .send()
                .await
                .status,
            StatusCode::NOT_FOUND
        );

        // `openapi` prints the same document; `--diff` guards it.
        let (result, printed) = command(site(&db, api()), &["openapi"]).await;
        result.unwrap();
        let printed: serde_json::Value = serde_json::from_str(&printed).unwrap();
        assert_eq!(printed, document);
        let dir = std::env::temp_dir().join(format!("estate-api-diff-{}", rand_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        let old = dir.join("old.json");
        std::fs::write(&old, serde_json::to_string(&document).unwrap()).unwrap();
        let (result, out) = command(
            site(&db, api()),
            &["openapi", "--diff", old.to_str().unwrap()],
        )
        .await;
        result.unwrap();
        assert!(out.contains("No breaking changes"), "{out}");
        let fewer = Api::new().resource(Resource::<Category>::new("open").permission(AllowAny));
        let (result, out) = command(
            site(&db, fewer),
            &["openapi", "--diff", old.to_str().unwrap()],
        )
        .await;
        let err = result.unwrap_err().to_string();
        assert!(err.contains("breaking change"), "{err}");
        assert!(out.contains("/api/members/: path removed"), "{out}");
        std::fs::remove_dir_all(&dir).ok();

        // `createtoken` prints a key that works.
        let (result, key) =
            command(site(&db, api()), &["createtoken", "plain", "--name", "ci"]).await;
        result.unwrap();
        let key = key.trim();
        assert!(key.starts_with("est_"), "{key}");
        let response = server
            .get("/api/members/")
            .header("authorization", &bearer(key))
            .send()
            .await;
        assert_eq!(response.status, StatusCode::OK);
        let (result, _) = command(site(&db, api()), &["createtoken", "nobody"]).await;
        assert!(result.unwrap_err().to_string().contains("does not exist"));
    })
    .await;
}
