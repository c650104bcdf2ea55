//! The shop the API tests serve: categories and products, with a token
//! for a superuser and a user without permissions.
#![allow(dead_code, unreachable_pub)]

use estate::auth::{Auth, CurrentUser, User, create_superuser, create_user};
use estate::cli::CommandOutput;
use estate::db::{Database, Db};
use estate::forms::FormData;
use estate::orm::chrono::{DateTime, TimeZone, Utc};
use estate::orm::rust_decimal::Decimal;
use estate::orm::{Choices, ForeignKey, create_table};
use estate::prelude::*;
use estate::settings::SettingsLoader;
use estate::test::TestServer;
use estate_api::{Api, ApiToken};

pub const PASSWORD: &str = "correct horse battery";

#[derive(Choices, Clone, Copy, Debug, PartialEq)]
pub enum Status {
    Draft,
    Published,
}

#[derive(Model, Clone, Debug)]
#[model(table = "shop_category", ordering = "name")]
pub struct Category {
    pub id: Auto<i64>,
    #[model(max_length = 50, unique)]
    pub name: String,
}

#[derive(Model, Clone, Debug)]
#[model(table = "shop_tag", ordering = "label")]
pub struct Tag {
    pub id: Auto<i64>,
    #[model(max_length = 20)]
    pub label: String,
}

#[derive(Model, Clone, Debug)]
#[model(table = "shop_product", ordering = "name")]
pub struct Product {
    pub id: Auto<i64>,
    #[model(max_length = 20, unique)]
    pub name: String,
    #[model(max_digits = 8, decimal_places = 2)]
    pub price: Decimal,
    #[model(default = 0)]
    pub stock: i32,
    #[model(default = Status::Draft)]
    pub status: Status,
    #[model(on_delete = Protect)]
    pub category: ForeignKey<Category>,
    pub note: Option<String>,
    pub created: DateTime<Utc>,
    #[model(on_delete = SetNull)]
    pub owner: Option<ForeignKey<User>>,
    pub tags: estate::orm::ManyToMany<Tag>,
}

/// The shop's models, installed as an app (for permission names).
pub fn shop_app() -> AppModule {
    AppModule::new("shop")
        .model::<Category>()
        .model::<Tag>()
        .model::<Product>()
}

async fn login(auth: Auth, db: Db, current: CurrentUser, form: FormData) -> Response {
    let username = form.get("username").unwrap_or_default();
    let password = form.get("password").unwrap_or_default();
    match auth.authenticate(&db, username, password).await {
        Ok(Some(mut user)) => match current.login(&mut user).await {
            Ok(()) => "logged in".into_response(),
            Err(err) => err.into_response(),
        },
        _ => (StatusCode::UNAUTHORIZED, "wrong username or password").into_response(),
    }
}

/// A DEBUG site with sessions, auth, the shop and `api`.
pub fn site(db: &Database, api: Api) -> App {
    site_with(db, api, |settings| settings)
}

/// [`site`] with more settings.
pub fn site_with(
    db: &Database,
    api: Api,
    settings: impl FnOnce(SettingsLoader) -> SettingsLoader,
) -> App {
    App::with_settings(
        settings(SettingsLoader::new().set("debug", true))
            .load()
            .expect("valid settings"),
    )
    .database(db.clone())
    .app(estate::sessions::app())
    .app(estate::auth::app())
    .app(shop_app())
    .app(api.app())
    .route("/login", post(login))
}

/// Runs a command of the site; returns its result and output.
pub async fn command(app: App, args: &[&str]) -> (estate::Result<()>, String) {
    let out = CommandOutput::capture();
    let mut argv = vec!["site"];
    argv.extend_from_slice(args);
    let result = app.run_with_args(argv, out.clone()).await;
    (result, out.captured())
}

/// What a test works with.
pub struct Shop {
    pub server: TestServer,
    pub db: Database,
    /// A superuser's token.
    pub admin: String,
    /// A token of a user with no permissions.
    pub plain: String,
    pub plain_user: User,
    pub books: i64,
    pub tools: i64,
}

impl Shop {
    /// Migrates, creates the shop's tables, two categories, users and
    /// tokens, and starts the site.
    pub async fn start(db: Database, api: impl Fn() -> Api) -> Shop {
        let (result, out) = command(site(&db, api()), &["migrate"]).await;
        result.unwrap_or_else(|err| panic!("migrate: {err}\n{out}"));
        create_table(&db, Category::META).await.unwrap();
        create_table(&db, Tag::META).await.unwrap();
        create_table(&db, Product::META).await.unwrap();
        let server = TestServer::start(site(&db, api())).await;
        let auth = server.context().get::<Auth>().unwrap().clone();
        let admin = create_superuser(&auth, &db, "admin", "", Some(PASSWORD))
            .await
            .unwrap();
        let plain_user = create_user(&auth, &db, "plain", "", Some(PASSWORD))
            .await
            .unwrap();
        let (_, admin) = ApiToken::create(&db, &admin, "tests").await.unwrap();
        let (_, plain) = ApiToken::create(&db, &plain_user, "tests").await.unwrap();
        let mut ids = Vec::new();
        for name in ["Books", "Tools"] {
            let mut category = Category {
                id: Auto::new(),
                name: name.into(),
            };
            category.save(&db).await.unwrap();
            ids.push(category.id.get().unwrap());
        }
        Shop {
            server,
            db,
            admin,
            plain,
            plain_user,
            books: ids[0],
            tools: ids[1],
        }
    }

    /// Adds a product directly in the database.
    pub async fn product(&self, name: &str, price: &str, stock: i32, category: i64) -> i64 {
        let mut product = Product {
            id: Auto::new(),
            name: name.into(),
            price: price.parse().unwrap(),
            stock,
            status: Status::Draft,
            category: ForeignKey::new(category),
            note: None,
            created: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
                + estate::orm::chrono::TimeDelta::days(i64::from(stock)),
            owner: None,
            tags: Default::default(),
        };
        product.save(&self.db).await.unwrap();
        product.id.get().unwrap()
    }

    pub async fn count(&self) -> i64 {
        Product::objects().count(&self.db).await.unwrap()
    }
}

/// `Authorization: Bearer {token}`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}
