//! mysite: an Estate site. `cargo run -- --help` lists the commands.
//!
//! The project of Estate's tutorial (`docs/tutorial/`), finished: the polls
//! app with its pages, tests and admin. In Estate's workspace its crate is
//! named `polls`: `cd examples/polls`, then `cargo run -- migrate`,
//! `cargo run -- createsuperuser` and `cargo run -- runserver`.

mod polls;

fn main() -> estate::Result<()> {
    // Settings come from estate.toml and ESTATE_* variables when a command
    // runs, so `--help` works before they are complete.
    estate::App::new()
        .templates(estate::templates!("templates"))
        .static_files(estate::static_dir!("static"))
        .app(estate::sessions::app())
        .app(estate::auth::app())
        .app(estate::messages::app())
        .app(polls::app())
        .app(admin())
        .run()
}

/// The admin at /admin/: every app's models registered here.
fn admin() -> estate::AppModule {
    let site = estate::admin::site().site_header("mysite administration");
    let site = polls::register(site);
    site.app()
}
