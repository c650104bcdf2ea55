//! A project-shaped Estate site: settings from `estate.toml` and `ESTATE_*`,
//! Django's polls tutorial as an app (models, migrations, templates, a
//! ModelForm, voting with an F-expression, its own settings section and
//! command), sessions, users with the account pages and a signup page,
//! messages, the admin at `/admin/` (`createsuperuser` first), a
//! stylesheet (`collectstatic` for production), and the management command
//! line. `tests/load_balanced.rs` runs two instances behind HAProxy with
//! `deploy/haproxy.cfg`.
//!
//! ```text
//! cargo run -p project -- --help
//! export ESTATE_DEBUG=true DATABASE_URL=sqlite://polls.sqlite3
//! cargo run -p project -- migrate
//! cargo run -p project -- runserver     # http://127.0.0.1:8000/polls/
//! cargo run -p project -- routes
//! ```

mod accounts;
mod polls;

fn main() -> estate::Result<()> {
    // Settings (estate.toml + ESTATE_* environment) are read when a command
    // runs, so `--help` works even before they are complete.
    estate::App::new()
        .route("/", estate::routing::get(home).name("home"))
        .static_files(estate::static_dir!("static"))
        .app(estate::sessions::app())
        .app(estate::auth::app())
        .app(estate::messages::app())
        .app(accounts::app())
        .app(polls::app())
        .app(polls::admin())
        .run()
}

async fn home(
    urls: estate::routing::Urls,
    user: estate::auth::CurrentUser,
) -> estate::Result<String> {
    let greeting = match user.user() {
        Some(user) => format!("Hello, {}. ", user.username),
        None => String::new(),
    };
    Ok(format!(
        "{greeting}Welcome. The polls live at {}",
        urls.reverse("polls:index", ())?
    ))
}
