//! A project-shaped Estate site: settings from `estate.toml` and `ESTATE_*`,
//! one app with named routes and its own settings section and command, and
//! the management command line.
//!
//! ```text
//! cargo run -p project -- --help
//! ESTATE_DEBUG=true cargo run -p project -- runserver
//! cargo run -p project -- routes
//! ```

mod polls;

fn main() -> estate::Result<()> {
    // Settings (estate.toml + ESTATE_* environment) are read when a command
    // runs, so `--help` works even before they are complete.
    estate::App::new()
        .route("/", estate::routing::get(home).name("home"))
        .app(polls::app())
        .run()
}

async fn home(urls: estate::routing::Urls) -> estate::Result<String> {
    Ok(format!(
        "Welcome. The polls live at {}",
        urls.reverse("polls:index", ())?
    ))
}
