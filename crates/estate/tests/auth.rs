//! Users, groups and permissions as a site meets them, on every backend:
//! `migrate` creates the tables and default permissions; logging in
//! through real HTTP rotates the session key and CSRF secret; guards send
//! anonymous visitors to the login page and refuse the others with 403;
//! permissions come through groups or directly, superusers pass; inactive
//! users cannot log in; changing a password ends other sessions; Django's
//! hashes log in and are upgraded; templates see `user` and `perms`.

mod common;

use estate::auth::{
    Auth, CurrentUser, Group, LoginRequired, Permission, PermissionRequired, User,
    create_superuser, create_user,
};
use estate::cli::CommandOutput;
use estate::db::{Database, Db};
use estate::forms::FormData;
use estate::orm::Model;
use estate::prelude::*;
use estate::templates::{Template, TemplateSource, context};
use estate::test::{TestServer, each_backend};

use common::{debug_app_with, startup_error};

estate::auth::permission!(CanChangeQuestion = "polls.change_question");

#[derive(Model, Debug, Clone)]
#[model(table = "polls_question")]
struct Question {
    id: Auto<i64>,
    #[model(max_length = 200)]
    question_text: String,
}

const PASSWORD: &str = "correct horse battery";

async fn login(auth: Auth, db: Db, current: CurrentUser, form: FormData) -> Response {
    let username = form.get("username").unwrap_or_default();
    let password = form.get("password").unwrap_or_default();
    match auth.authenticate(&db, username, password).await {
        Ok(Some(mut user)) => match current.login(&mut user).await {
            Ok(()) => "logged in".into_response(),
            Err(err) => err.into_response(),
        },
        Ok(None) => (StatusCode::UNAUTHORIZED, "wrong username or password").into_response(),
        Err(err) => estate::Error::from(err).into_response(),
    }
}

async fn logout(current: CurrentUser) -> &'static str {
    current.logout().await;
    "logged out"
}

async fn me(current: CurrentUser) -> String {
    current
        .user()
        .map_or_else(|| "anonymous".to_owned(), |u| u.username)
}

async fn private(LoginRequired(user): LoginRequired) -> String {
    format!("private page of {}", user.username())
}

async fn edit(_: PermissionRequired<CanChangeQuestion>) -> &'static str {
    "edit form"
}

async fn page() -> Template {
    Template::render("page.html", context! {})
}

/// The page template, written once (tests run in parallel).
fn templates() -> TemplateSource {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("estate-auth-templates-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("page.html"),
            "{% if user.is_authenticated %}Hello {{ user.username }}{% else %}Hello stranger{% endif %}\
             |polls:{{ 'yes' if perms.polls else 'no' }}\
             |change:{{ 'yes' if perms.polls.change_question else 'no' }}\
             |delete:{{ 'yes' if 'polls.delete_question' in perms else 'no' }}",
        )
        .unwrap();
        dir
    });
    TemplateSource::dir(dir.clone())
}

fn site(db: &Database) -> App {
    debug_app_with(|s| s)
        .database(db.clone())
        .templates(templates())
        .app(estate::sessions::app())
        .app(estate::auth::app())
        .app(AppModule::new("polls").model::<Question>())
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/private", get(private))
        .route("/edit", get(edit))
        .route("/page", get(page))
        .route(
            "/staff",
            get(|| async { "staff area" }).layer(estate::auth::staff_required()),
        )
        .route(
            "/delete",
            get(|| async { "deleted" })
                .layer(estate::auth::permission_required("polls.delete_question")),
        )
}

async fn migrate(db: &Database) -> String {
    let out = CommandOutput::capture();
    site(db)
        .run_with_args(["site", "migrate"], out.clone())
        .await
        .unwrap();
    out.captured()
}

/// Logs in through the login form; returns the session cookie.
async fn log_in(server: &TestServer, username: &str, password: &str) -> String {
    let response = server
        .post("/login")
        .form(&[("username", username), ("password", password)])
        .send()
        .await;
    assert_eq!(
        response.status,
        StatusCode::OK,
        "{username}: {}",
        response.text()
    );
    response.cookie("sessionid").unwrap().to_owned()
}

async fn get_as(server: &TestServer, path: &str, session: &str) -> (StatusCode, String) {
    let response = server.get(path).cookie("sessionid", session).send().await;
    (response.status, response.text())
}

#[tokio::test]
async fn migrate_creates_the_tables_and_every_models_default_permissions() {
    each_backend(async |db| {
        let out = migrate(&db).await;
        assert!(out.contains("auth.0001_initial"), "{out}");
        assert!(out.contains("sessions.0001_initial"), "{out}");
        let codenames: Vec<String> = Permission::objects()
            .filter(Permission::APP_LABEL.eq("polls"))
            .values(Permission::CODENAME)
            .all(&db)
            .await
            .unwrap();
        assert_eq!(
            codenames,
            [
                "add_question",
                "change_question",
                "delete_question",
                "view_question"
            ]
        );
        let change_user = Permission::objects()
            .get(&db, Permission::CODENAME.eq("change_user"))
            .await
            .unwrap();
        assert_eq!(change_user.name, "Can change user");
        assert_eq!(change_user.natural_key(), "auth.change_user");
        assert!(
            Permission::objects()
                .filter(Permission::APP_LABEL.eq("sessions"))
                .exists(&db)
                .await
                .unwrap()
        );
        // Again: nothing new, nothing doubled.
        let before = Permission::objects().count(&db).await.unwrap();
        migrate(&db).await;
        assert_eq!(Permission::objects().count(&db).await.unwrap(), before);
    })
    .await;
}

#[tokio::test]
async fn logging_in_and_out_through_http() {
    each_backend(async |db| {
        migrate(&db).await;
        let auth = TestServer::start(site(&db)).await;
        let hashers_auth = auth.context().get::<Auth>().unwrap().clone();
        create_user(&hashers_auth, &db, "ann", "ann@example.com", Some(PASSWORD))
            .await
            .unwrap();
        create_user(&hashers_auth, &db, "carl", "", Some(PASSWORD))
            .await
            .unwrap();
        User::objects()
            .filter(User::USERNAME.eq("carl"))
            .update(&db, [User::IS_ACTIVE.set(false)])
            .await
            .unwrap();
        let server = auth;

        // Anonymous.
        let response = server.get("/me").send().await;
        assert_eq!(response.text(), "anonymous");
        let response = server.get("/private?tab=2").send().await;
        assert_eq!(response.status, StatusCode::SEE_OTHER);
        assert_eq!(
            response.header("location"),
            Some("/accounts/login/?next=%2Fprivate%3Ftab%3D2")
        );

        // A session from before login is not the one after it.
        let before = server.get("/page").send().await;
        assert_eq!(before.text(), "Hello stranger|polls:no|change:no|delete:no");
        let visitor = server
            .post("/login")
            .form(&[("username", "nobody"), ("password", "x")])
            .send()
            .await;
        assert_eq!(visitor.status, StatusCode::UNAUTHORIZED);
        let anonymous_session = {
            // Give the visitor a stored session first.
            let response = server.get("/me").send().await;
            response.cookie("sessionid").map(str::to_owned)
        };
        assert_eq!(anonymous_session, None, "reading the user stores nothing");
        let response = server
            .post("/login")
            .cookie("sessionid", "planted0000000000000000000000000")
            .form(&[("username", "ann"), ("password", PASSWORD)])
            .send()
            .await;
        assert_eq!(response.text(), "logged in");
        let session = response.cookie("sessionid").unwrap().to_owned();
        assert_ne!(session, "planted0000000000000000000000000");
        let csrf = response
            .cookie("csrftoken")
            .expect("a new CSRF secret at login");
        assert_ne!(csrf, "testclienttestclienttestclient00");
        let ann = User::objects()
            .get(&db, User::USERNAME.eq("ann"))
            .await
            .unwrap();
        assert!(ann.last_login.is_some());

        assert_eq!(get_as(&server, "/me", &session).await.1, "ann");
        assert_eq!(
            get_as(&server, "/private", &session).await,
            (StatusCode::OK, "private page of ann".to_owned())
        );
        assert_eq!(
            get_as(&server, "/page", &session).await.1,
            "Hello ann|polls:no|change:no|delete:no"
        );

        // Logging in again as ann keeps her data under a new key.
        let again = server
            .post("/login")
            .cookie("sessionid", &session)
            .form(&[("username", "ann"), ("password", PASSWORD)])
            .send()
            .await;
        let session2 = again.cookie("sessionid").unwrap().to_owned();
        assert_ne!(session2, session);
        assert_eq!(get_as(&server, "/me", &session).await.1, "anonymous");
        assert_eq!(get_as(&server, "/me", &session2).await.1, "ann");

        // Wrong password, unknown and inactive users: refused alike.
        for (name, password) in [("ann", "wrong"), ("nobody", PASSWORD), ("carl", PASSWORD)] {
            let response = server
                .post("/login")
                .form(&[("username", name), ("password", password)])
                .send()
                .await;
            assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{name}");
            assert_eq!(response.cookie("sessionid"), None, "{name}");
        }

        // Logout ends the session everywhere it was.
        let response = server
            .post("/logout")
            .cookie("sessionid", &session2)
            .send()
            .await;
        assert_eq!(response.text(), "logged out");
        assert_eq!(response.cookie("sessionid"), Some(""));
        assert_eq!(get_as(&server, "/me", &session2).await.1, "anonymous");

        // A password changed elsewhere ends the other sessions; so does
        // deactivating the account.
        let session3 = log_in(&server, "ann", PASSWORD).await;
        let mut ann = User::objects()
            .get(&db, User::USERNAME.eq("ann"))
            .await
            .unwrap();
        ann.set_password(hashers_auth.hashers(), "another horse battery");
        ann.save(&db).await.unwrap();
        let response = server
            .get("/me")
            .cookie("sessionid", &session3)
            .send()
            .await;
        assert_eq!(response.text(), "anonymous");
        assert_eq!(
            response.cookie("sessionid"),
            Some(""),
            "the stale session is flushed"
        );
        let session4 = log_in(&server, "ann", "another horse battery").await;
        User::objects()
            .filter(User::USERNAME.eq("ann"))
            .update(&db, [User::IS_ACTIVE.set(false)])
            .await
            .unwrap();
        assert_eq!(get_as(&server, "/me", &session4).await.1, "anonymous");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn permissions_come_from_groups_and_users_and_superusers_have_all() {
    each_backend(async |db| {
        migrate(&db).await;
        let server = TestServer::start(site(&db)).await;
        let auth = server.context().get::<Auth>().unwrap().clone();
        let ann = create_user(&auth, &db, "ann", "", Some(PASSWORD))
            .await
            .unwrap();
        let mut bob = create_user(&auth, &db, "bob", "", Some(PASSWORD))
            .await
            .unwrap();
        bob.is_staff = true;
        bob.save(&db).await.unwrap();
        create_superuser(&auth, &db, "root", "root@example.com", Some(PASSWORD))
            .await
            .unwrap();
        let ann_session = log_in(&server, "ann", PASSWORD).await;
        let bob_session = log_in(&server, "bob", PASSWORD).await;
        let root_session = log_in(&server, "root", PASSWORD).await;

        // Nothing yet: 403 (and anonymous visitors go to the login page).
        assert_eq!(
            get_as(&server, "/edit", &ann_session).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            get_as(&server, "/delete", &ann_session).await.0,
            StatusCode::FORBIDDEN
        );
        let anonymous = server.get("/edit").send().await;
        assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
        assert_eq!(
            anonymous.header("location"),
            Some("/accounts/login/?next=%2Fedit")
        );
        // Staff only.
        assert_eq!(
            get_as(&server, "/staff", &ann_session).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            get_as(&server, "/staff", &bob_session).await,
            (StatusCode::OK, "staff area".to_owned())
        );
        assert_eq!(
            server.get("/staff").send().await.status,
            StatusCode::SEE_OTHER
        );

        // Through a group.
        let change = Permission::objects()
            .get(&db, Permission::CODENAME.eq("change_question"))
            .await
            .unwrap();
        let mut editors = Group {
            id: Auto::new(),
            name: "editors".into(),
            permissions: Default::default(),
        };
        editors.save(&db).await.unwrap();
        Group::PERMISSIONS
            .add(&db, &editors, [&change])
            .await
            .unwrap();
        User::GROUPS.add(&db, &ann, [&editors]).await.unwrap();
        assert_eq!(
            get_as(&server, "/edit", &ann_session).await,
            (StatusCode::OK, "edit form".to_owned())
        );
        assert_eq!(
            get_as(&server, "/delete", &ann_session).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            get_as(&server, "/page", &ann_session).await.1,
            "Hello ann|polls:yes|change:yes|delete:no"
        );

        // Directly.
        User::GROUPS.clear(&db, &ann).await.unwrap();
        assert_eq!(
            get_as(&server, "/edit", &ann_session).await.0,
            StatusCode::FORBIDDEN
        );
        let delete = Permission::objects()
            .get(&db, Permission::CODENAME.eq("delete_question"))
            .await
            .unwrap();
        User::USER_PERMISSIONS
            .add(&db, &ann, [&delete])
            .await
            .unwrap();
        assert_eq!(
            get_as(&server, "/delete", &ann_session).await.0,
            StatusCode::OK
        );
        assert_eq!(
            get_as(&server, "/page", &ann_session).await.1,
            "Hello ann|polls:yes|change:no|delete:yes"
        );

        // A superuser needs none.
        assert_eq!(
            get_as(&server, "/edit", &root_session).await.0,
            StatusCode::OK
        );
        assert_eq!(
            get_as(&server, "/delete", &root_session).await.0,
            StatusCode::OK
        );
        assert_eq!(
            get_as(&server, "/page", &root_session).await.1,
            "Hello root|polls:yes|change:yes|delete:yes"
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn djangos_password_hashes_log_in_and_are_upgraded() {
    each_backend(async |db| {
        migrate(&db).await;
        let server = TestServer::start(site(&db)).await;
        let auth = server.context().get::<Auth>().unwrap().clone();
        let mut user = create_user(&auth, &db, "legacy", "", None).await.unwrap();
        assert!(!user.has_usable_password());
        // Written by Django 5.2 for "correct horse".
        user.password =
            "pbkdf2_sha256$1000$saltsalt$qQDPSZa3Ormyy9oK1Pu0ZLLwP2Svzmx3yu8OvDdq/J0=".into();
        user.save(&db).await.unwrap();
        let response = server
            .post("/login")
            .form(&[("username", "legacy"), ("password", "correct horsE")])
            .send()
            .await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
        let stored = User::objects()
            .get(&db, User::USERNAME.eq("legacy"))
            .await
            .unwrap();
        assert!(
            stored.password.starts_with("pbkdf2_sha256$"),
            "unchanged by a failed login"
        );
        let session = log_in(&server, "legacy", "correct horse").await;
        let stored = User::objects()
            .get(&db, User::USERNAME.eq("legacy"))
            .await
            .unwrap();
        assert!(
            stored.password.starts_with("argon2$argon2id$"),
            "{}",
            stored.password
        );
        assert_eq!(get_as(&server, "/me", &session).await.1, "legacy");
        // The new hash works too.
        log_in(&server, "legacy", "correct horse").await;
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn creating_users_checks_names_and_duplicates() {
    each_backend(async |db| {
        migrate(&db).await;
        let server = TestServer::start(site(&db)).await;
        let auth = server.context().get::<Auth>().unwrap().clone();
        create_user(&auth, &db, "ann", "Ann@EXAMPLE.com", None)
            .await
            .unwrap();
        let ann = User::objects()
            .get(&db, User::USERNAME.eq("ann"))
            .await
            .unwrap();
        assert_eq!(ann.email, "Ann@example.com");
        let err = create_user(&auth, &db, "ann", "", None).await.unwrap_err();
        assert_eq!(err.status(), StatusCode::CONFLICT);
        assert!(err.to_string().contains("already exists"), "{err}");
        let err = create_user(&auth, &db, "ann smith", "", None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("Enter a valid username"), "{err}");
        assert_eq!(User::objects().count(&db).await.unwrap(), 1);
        server.shutdown().await;
    })
    .await;
}

/// The documented way to add fields to users: a profile model.
#[derive(Model, Debug, Clone)]
#[model(table = "accounts_profile")]
struct Profile {
    id: Auto<i64>,
    #[model(on_delete = Cascade)]
    user: estate::orm::OneToOne<User>,
    #[model(max_length = 100)]
    favourite_colour: String,
}

#[tokio::test]
async fn profiles_extend_users_one_to_one() {
    each_backend(async |db| {
        migrate(&db).await;
        estate::orm::create_table(&db, Profile::META).await.unwrap();
        let server = TestServer::start(site(&db)).await;
        let auth = server.context().get::<Auth>().unwrap().clone();
        let ann = create_user(&auth, &db, "ann", "", None).await.unwrap();
        let mut profile = Profile {
            id: Auto::new(),
            user: estate::orm::ForeignKey::to(&ann).unwrap(),
            favourite_colour: "green".into(),
        };
        profile.save(&db).await.unwrap();
        // One profile per user.
        let mut second = profile.clone();
        second.id = Auto::new();
        let err = second.save(&db).await.unwrap_err();
        assert_eq!(err.kind(), estate::orm::ErrorKind::UniqueViolation);
        // Found from the user's fields, and the user from the profile.
        let found = Profile::objects()
            .filter(Profile::USER.matching(User::USERNAME.eq("ann")))
            .select_related(Profile::USER)
            .get(&db, Profile::FAVOURITE_COLOUR.eq("green"))
            .await
            .unwrap();
        assert_eq!(found.user.get().unwrap().username, "ann");
        // Removed with the user.
        ann.delete(&db).await.unwrap();
        assert_eq!(Profile::objects().count(&db).await.unwrap(), 0);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn the_auth_app_says_what_it_needs() {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    let error = startup_error(debug_app_with(|s| s).database(db).app(estate::auth::app())).await;
    assert!(
        error.contains("add `.app(estate::sessions::app())`"),
        "{error}"
    );
    let error = startup_error(
        debug_app_with(|s| s.set("sessions.engine", "signed_cookies"))
            .app(estate::sessions::app())
            .app(estate::auth::app()),
    )
    .await;
    assert!(error.contains("auth.E001"), "{error}");
    assert!(error.contains("needs a database"), "{error}");
    let server = TestServer::start(debug_app_with(|s| s).route("/me", get(me))).await;
    let response = server.get("/me").send().await;
    assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        response.text().contains("estate::auth::app()"),
        "{}",
        response.text()
    );
    server.shutdown().await;
}

/// A login made under a key that is then rotated out (moved to
/// `secret_key_fallbacks`) is re-signed under the new key on the next
/// request, so removing the old key later keeps the user logged in.
#[tokio::test]
async fn logins_survive_a_secret_key_rotation() {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    migrate(&db).await;
    let keyed = |key: &'static str, fallbacks: Vec<&'static str>| {
        debug_app_with(move |s| {
            s.set("secret_key", key)
                .set("secret_key_fallbacks", fallbacks)
        })
        .database(db.clone())
        .app(estate::sessions::app())
        .app(estate::auth::app())
        .route("/login", post(login))
        .route("/me", get(me))
    };
    let old = "old-key-old-key-old-key-old-key";
    let new = "new-key-new-key-new-key-new-key";
    let server = TestServer::start(keyed(old, vec![])).await;
    let auth = server.context().get::<Auth>().unwrap().clone();
    create_user(&auth, &db, "ann", "", Some(PASSWORD))
        .await
        .unwrap();
    let browser = server.client();
    browser
        .post("/login")
        .form(&[("username", "ann"), ("password", PASSWORD)])
        .send()
        .await;
    let session = browser.cookie("sessionid").unwrap();
    server.shutdown().await;

    let server = TestServer::start(keyed(new, vec![old])).await;
    let visit = server.get("/me").cookie("sessionid", &session).send().await;
    assert_eq!(visit.text(), "ann");
    let resigned = visit
        .cookie("sessionid")
        .expect("re-signed under a new key")
        .to_owned();
    assert_ne!(resigned, session);
    server.shutdown().await;

    let server = TestServer::start(keyed(new, vec![])).await;
    assert_eq!(
        server
            .get("/me")
            .cookie("sessionid", &resigned)
            .send()
            .await
            .text(),
        "ann"
    );
    assert_eq!(
        server
            .get("/me")
            .cookie("sessionid", &session)
            .send()
            .await
            .text(),
        "anonymous"
    );
    server.shutdown().await;
}
