//! The admin: register a model, get pages to list, search, sort, add,
//! change and delete its rows, for staff users, as far as their
//! permissions go (Django's `django.contrib.admin`).
//!
//! ```no_run
//! use estate::prelude::*;
//! use estate::admin::ModelAdmin;
//!
//! #[derive(Model, Debug, Clone)]
//! #[model(table = "polls_question")]
//! pub struct Question {
//!     pub id: Auto<i64>,
//!     #[model(max_length = 200)]
//!     pub question_text: String,
//!     pub pub_date: estate::orm::chrono::DateTime<estate::orm::chrono::Utc>,
//! }
//!
//! fn main() -> estate::Result<()> {
//!     App::new()
//!         .app(estate::sessions::app())
//!         .app(estate::auth::app())
//!         .app(AppModule::new("polls").model::<Question>())
//!         .app(
//!             estate::admin::site()
//!                 .register(
//!                     ModelAdmin::<Question>::new()
//!                         .list_display(&["question_text", "pub_date"])
//!                         .search_fields(&["question_text"])
//!                         .ordering("-pub_date"),
//!                 )
//!                 .app(),
//!         )
//!         .run()
//! }
//! ```
//!
//! The pages live under `/admin/`: the index lists the models a staff user
//! may see, grouped by app. Every page needs a logged-in, active staff
//! user (others are sent to `/admin/login/`); each model's pages need its
//! permissions — `view_` (or `change_`) to list and show, `add_`, `change_`
//! and `delete_` to write — and refuse with 403 otherwise, links hidden.
//! Superusers may do everything. See `docs/admin.md`.

mod actions;
mod auth_admin;
mod entry;
mod filters;
mod history;
mod inlines;
pub(crate) mod migrations;
pub(crate) mod model_admin;
pub(crate) mod views;
mod widgets;

use std::sync::Arc;

pub use history::{ActionFlag, LogEntry};
pub use inlines::Inline;
pub use model_admin::ModelAdmin;

use crate::app_module::AppModule;
use entry::AdminEntry;

/// The admin's stylesheet, served at `/admin/static/admin.css`.
const STYLESHEET: &str = include_str!("admin.css");

/// The admin's script (autocomplete, two-pane selector, prepopulated
/// slugs), served at `/admin/static/admin.js`.
const SCRIPT: &str = include_str!("admin.js");

/// An admin site: its titles and registered models; `.app()` makes the
/// app to install.
pub struct AdminSite {
    site_title: String,
    site_header: String,
    entries: Vec<Arc<dyn AdminEntry>>,
}

/// A new admin site (Django's `admin.site`), with the users and groups
/// pages already registered.
pub fn site() -> AdminSite {
    AdminSite {
        site_title: "Estate site admin".to_owned(),
        site_header: "Estate administration".to_owned(),
        entries: vec![
            Arc::new(auth_admin::UserAdmin::new()),
            Arc::new(auth_admin::group_admin()),
        ],
    }
}

impl AdminSite {
    /// The text at the top of every admin page (Django's `site_header`).
    #[must_use]
    pub fn site_header(mut self, header: &str) -> Self {
        header.clone_into(&mut self.site_header);
        self
    }

    /// The end of every admin page's `<title>` (Django's `site_title`).
    #[must_use]
    pub fn site_title(mut self, title: &str) -> Self {
        title.clone_into(&mut self.site_title);
        self
    }

    /// Registers a model with its options.
    ///
    /// # Panics
    /// If the model is registered twice, or an option names a field the
    /// model does not have (the message lists its fields).
    #[must_use]
    pub fn register<M: estate_orm::Model>(mut self, admin: ModelAdmin<M>) -> Self {
        admin.check_options();
        assert!(
            !self.entries.iter().any(|e| e.meta().table == M::META.table),
            "{} is registered with the admin twice",
            M::META.name
        );
        self.entries.push(Arc::new(admin));
        self
    }

    /// The admin app, mounted at `/admin/`.
    ///
    /// # Panics
    /// When an `autocomplete_fields` entry points at a model that is not
    /// registered, or whose admin has no `search_fields` (Django's
    /// admin.E039 and admin.E040): the message names both models and the fix.
    pub fn app(self) -> AppModule {
        for entry in &self.entries {
            for (field, target) in entry.autocomplete_targets() {
                let searched = self.entries.iter().find(|e| e.meta().table == target.table);
                let source = entry.meta().name;
                let Some(searched) = searched else {
                    panic!(
                        "ModelAdmin<{source}>::autocomplete_fields names `{field}`, which points \
                         at {}: register {} with the admin (with search_fields) so the box can \
                         search it",
                        target.name, target.name
                    );
                };
                assert!(
                    searched.searchable(),
                    "ModelAdmin<{source}>::autocomplete_fields names `{field}`, but \
                     ModelAdmin<{}> has no search_fields: add .search_fields(&[...]) so the box \
                     can search it",
                    target.name
                );
            }
        }
        views::routes(
            AppModule::new("admin")
                .prefix("/admin")
                .model::<LogEntry>()
                .migrations(
                    concat!(env!("CARGO_MANIFEST_DIR"), "/src/admin/migrations"),
                    migrations::all,
                ),
            Arc::new(Site {
                site_title: self.site_title,
                site_header: self.site_header,
                entries: self.entries,
            }),
        )
    }
}

/// The site as its pages see it.
pub(crate) struct Site {
    pub(crate) site_title: String,
    pub(crate) site_header: String,
    pub(crate) entries: Vec<Arc<dyn AdminEntry>>,
}
