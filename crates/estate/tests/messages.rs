//! One-time messages as a visitor sees them: added before a redirect, shown
//! on the next page once, escaped; kept in the session (every backend) or,
//! without sessions, in a signed cookie.

mod common;

use estate::cli::CommandOutput;
use estate::db::Database;
use estate::messages::{Level, Messages};
use estate::prelude::*;
use estate::settings::SettingsLoader;
use estate::templates::{Template, TemplateSource, context};
use estate::test::{TestServer, each_backend};

use common::debug_app_with;

async fn vote(messages: Messages) -> Redirect {
    messages.success("Thanks for voting.");
    messages.add_with_tags(Level::Warning, "Polls close <b>soon</b>.", "banner");
    messages.debug("vote stored");
    Redirect::to("/page")
}

async fn page() -> Template {
    Template::render("page.html", context! {})
}

async fn instant(messages: Messages) -> Template {
    messages.info("Shown right away.");
    Template::render("page.html", context! {})
}

async fn api(messages: Messages) -> String {
    let taken = messages.take().await;
    taken
        .iter()
        .map(|m| format!("{}:{}", m.level.tag(), m.message))
        .collect::<Vec<_>>()
        .join(",")
}

async fn many(messages: Messages) -> Redirect {
    for i in 0..100 {
        // Random text, so compression cannot make them all fit.
        let noise = estate::crypto::get_random_string(30);
        messages.info(format!("Message number {i} {noise}"));
    }
    Redirect::to("/api")
}

fn templates() -> TemplateSource {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("estate-messages-templates-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("page.html"),
            "[{% for message in messages %}<p class=\"{{ message.tags }}\">{{ message }}</p>{% endfor %}]",
        )
        .unwrap();
        dir
    });
    TemplateSource::dir(dir.clone())
}

fn site(settings: impl FnOnce(SettingsLoader) -> SettingsLoader) -> App {
    debug_app_with(settings)
        .templates(templates())
        .app(estate::messages::app())
        .route("/vote", post(vote))
        .route("/page", get(page))
        .route("/instant", get(instant))
        .route("/api", get(api))
        .route("/many", get(many))
}

fn with_sessions(db: &Database) -> App {
    site(|s| s)
        .database(db.clone())
        .app(estate::sessions::app())
}

const SHOWN: &str = "[<p class=\"success\">Thanks for voting.</p><p class=\"banner warning\">Polls close &lt;b&gt;soon&lt;/b&gt;.</p>]";

#[tokio::test]
async fn messages_wait_in_the_session_and_show_once() {
    each_backend(async |db| {
        let out = CommandOutput::capture();
        with_sessions(&db)
            .run_with_args(["site", "migrate"], out)
            .await
            .unwrap();
        let server = TestServer::start(with_sessions(&db)).await;
        let browser = server.client();
        let voted = browser.post("/vote").send().await;
        assert_eq!(voted.status, StatusCode::SEE_OTHER);
        assert_eq!(voted.cookie("messages"), None, "kept in the session");
        assert!(browser.cookie("sessionid").is_some());
        // Shown on the next page, escaped, debug left out; then gone.
        assert_eq!(browser.get("/page").send().await.text(), SHOWN);
        assert_eq!(browser.get("/page").send().await.text(), "[]");
        // Added and shown by the same page.
        let instant = browser.get("/instant").send().await;
        assert_eq!(instant.text(), "[<p class=\"info\">Shown right away.</p>]");
        // Taken by a handler instead of a template.
        browser.post("/vote").send().await;
        let taken = browser.get("/api").send().await;
        assert_eq!(
            taken.text(),
            "success:Thanks for voting.,warning:Polls close <b>soon</b>."
        );
        assert_eq!(browser.get("/page").send().await.text(), "[]");
        // Another visitor sees none of it.
        browser.post("/vote").send().await;
        assert_eq!(server.get("/page").send().await.text(), "[]");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn without_sessions_messages_travel_in_a_signed_cookie() {
    let server = TestServer::start(site(|s| s.set("messages.level", "debug"))).await;
    let voted = server.post("/vote").send().await;
    let cookie = voted.cookie("messages").unwrap().to_owned();
    let header = voted.set_cookie("messages").unwrap();
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Lax"),
        "{header}"
    );
    let shown = server.get("/page").cookie("messages", &cookie).send().await;
    assert!(
        shown.text().contains("<p class=\"debug\">vote stored</p>"),
        "{}",
        shown.text()
    );
    assert!(
        shown.text().starts_with(&SHOWN[..SHOWN.len() - 1]),
        "{}",
        shown.text()
    );
    assert!(shown.set_cookie("messages").unwrap().contains("Max-Age=0"));
    // A forged cookie is ignored.
    let forged = format!("x{cookie}");
    let page = server.get("/page").cookie("messages", &forged).send().await;
    assert_eq!(page.text(), "[]");
    // Too many for a cookie: the oldest are dropped, the newest kept.
    let many = server.get("/many").send().await;
    let value = many.cookie("messages").unwrap().to_owned();
    assert!(value.len() <= 2048, "{}", value.len());
    let taken = server
        .get("/api")
        .cookie("messages", &value)
        .send()
        .await
        .text();
    assert!(taken.contains("info:Message number 99 "), "{taken}");
    assert!(!taken.contains("number 0 "), "{taken}");
    // Nothing added, nothing waiting: no cookie at all.
    assert_eq!(
        server.get("/page").send().await.set_cookie("messages"),
        None
    );
    server.shutdown().await;
}

#[tokio::test]
async fn handlers_without_the_app_are_told_how_to_install_it() {
    let server = TestServer::start(debug_app_with(|s| s).route("/api", get(api))).await;
    let response = server.get("/api").send().await;
    assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        response.text().contains("estate::messages::app()"),
        "{}",
        response.text()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_message_too_big_for_the_cookie_is_dropped_not_sent() {
    async fn huge(messages: Messages) -> Redirect {
        // Random text: compression cannot shrink it under the cap.
        messages.info(estate::crypto::get_random_string(3000));
        Redirect::to("/page")
    }
    let server = TestServer::start(site(|s| s).route("/huge", get(huge))).await;
    let response = server.get("/huge").send().await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    assert_eq!(response.set_cookie("messages"), None);
    server.shutdown().await;
}
