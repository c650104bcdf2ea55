//! Generic views: Django's `ListView`, `DetailView`, `CreateView`,
//! `UpdateView` and `DeleteView` for a model, each one route.
//!
//! ```
//! use estate::prelude::*;
//! use estate::views::{CreateView, DeleteView, DetailView, ListView, UpdateView};
//! # #[derive(Model, Debug, Clone, serde::Serialize)]
//! # #[model(table = "polls_question")]
//! # struct Question { id: Auto<i64>, #[model(max_length = 200)] question_text: String }
//!
//! let polls = AppModule::new("polls")
//!     .model::<Question>()
//!     .prefix("/polls")
//!     // polls/question_list.html with `question_list`, 10 a page.
//!     .route("/", ListView::<Question>::new().paginate_by(10).name("index"))
//!     // polls/question_detail.html with `question`; 404 for an unknown id.
//!     .route("/{id}/", DetailView::<Question>::new().name("detail"))
//!     // polls/question_form.html with `form`; then to the new question.
//!     .route(
//!         "/new/",
//!         CreateView::<Question>::new()
//!             .fields(&["question_text"])
//!             .success_url("/polls/{id}/")
//!             .name("new"),
//!     )
//!     .route(
//!         "/{id}/edit/",
//!         UpdateView::<Question>::new()
//!             .fields(&["question_text"])
//!             .success_url("/polls/{id}/")
//!             .name("edit"),
//!     )
//!     // polls/question_confirm_delete.html with `question`; POST deletes.
//!     .route(
//!         "/{id}/delete/",
//!         DeleteView::<Question>::new().success_url("/polls/").name("delete"),
//!     );
//! ```
//!
//! As in Django: the template is `<app>/<model>_<suffix>.html` unless
//! `.template(...)` names another; the object is in the context as `object`
//! and as the model's name in lower case (`question`), a list as
//! `object_list` and `question_list`; `.queryset(...)` narrows what a view
//! shows (a row outside it is a 404); `success_url` may hold `{field}`
//! placeholders filled from the saved object. The object is found by the
//! URL parameter `pk`, or `id`, or the route's only parameter, matched
//! against the primary key — or against another field with
//! `.lookup_field("slug")`. Views are plain routes: add guards and layers
//! (`.layer(...)`) as to any other.

mod detail;
mod edit;
mod list;

use std::collections::HashMap;
use std::sync::Arc;

use estate_orm::{Condition, ErrorKind, FieldMeta, Model, QuerySet};

pub use detail::DetailView;
pub use edit::{CreateView, DeleteView, UpdateView};
pub use list::ListView;

use crate::context::AppContext;
use crate::error::Error;
use crate::routing::{HandlerInfo, Route};

/// A view's queryset: the model's default one, or the view's own, made
/// again for each request (so "published before now" means now).
type QueryFn<M> = Arc<dyn Fn() -> QuerySet<M> + Send + Sync>;

fn default_query<M: Model>() -> QueryFn<M> {
    Arc::new(|| QuerySet::<M>::new())
}

/// The template a view renders: its own, or Django's
/// `<app>/<model>_<suffix>.html` for the app that installed the model.
fn template_name<M: Model>(
    context: &AppContext,
    given: Option<&str>,
    suffix: &str,
    view: &str,
) -> Result<String, Error> {
    if let Some(name) = given {
        return Ok(name.to_owned());
    }
    let app = crate::admin::views::app_label_of(context, M::META).ok_or_else(|| {
        Error::msg(format!(
            "{view}<{model}> has no template: no app installs {model} (add \
             `.model::<{model}>()` to its AppModule), so name one with .template(\"...\")",
            model = M::META.name
        ))
    })?;
    Ok(format!(
        "{app}/{}_{suffix}.html",
        M::META.name.to_ascii_lowercase()
    ))
}

/// The model's name as templates see it: `question` for `Question`.
fn object_name<M: Model>() -> String {
    M::META.name.to_ascii_lowercase()
}

/// How a view finds its object in the URL.
#[derive(Clone, Debug)]
struct Lookup {
    /// The field matched: the primary key unless `.lookup_field(...)`.
    field: Option<&'static FieldMeta>,
}

impl Lookup {
    fn primary_key() -> Self {
        Lookup { field: None }
    }

    /// The field named `name` of `M`.
    ///
    /// # Panics
    /// When `M` has no such field: a programming error, found at startup.
    fn field<M: Model>(view: &str, name: &str) -> Self {
        let field = M::META
            .fields
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| {
                panic!(
                    "{view}<{model}>::lookup_field({name:?}): {model} has no field `{name}`",
                    model = M::META.name
                )
            });
        Lookup { field: Some(field) }
    }

    /// The object of `query` the URL's parameters name; a 404 when there is
    /// none (or the parameter cannot be a value of the field).
    async fn find<M: Model>(
        &self,
        db: &crate::db::Db,
        query: QuerySet<M>,
        params: &HashMap<String, String>,
    ) -> Result<M, Error> {
        let field = self.field.unwrap_or_else(|| M::META.pk());
        let text = [field.name, "pk", "id"]
            .iter()
            .find_map(|name| params.get(*name))
            .or_else(|| {
                (params.len() == 1)
                    .then(|| params.values().next())
                    .flatten()
            })
            .ok_or_else(|| {
                Error::msg(format!(
                    "the view of {} needs a URL parameter `{{{}}}` (or `{{pk}}`/`{{id}}`) \
                     in its route's path",
                    M::META.name,
                    field.name
                ))
            })?;
        let not_found = || {
            Error::not_found(format!(
                "No {} found matching the query",
                M::META.verbose_name
            ))
        };
        let value =
            crate::admin::model_admin::parse_field_value(field, text).ok_or_else(not_found)?;
        let condition = Condition::<M>::field_equals(field.name, value)?;
        match query.get(&**db, condition).await {
            Ok(object) => Ok(object),
            Err(err) if err.kind() == ErrorKind::DoesNotExist => Err(not_found()),
            Err(err) => Err(err.into()),
        }
    }
}

/// A view's extra context, computed from its object and the database.
type ContextFn<M> = Arc<
    dyn Fn(
            &M,
            crate::db::Db,
        ) -> futures_util::future::BoxFuture<'static, Result<minijinja::Value, Error>>
        + Send
        + Sync,
>;

/// The names and values of a `context_with` map.
fn context_entries<M: Model>(
    view: &str,
    value: minijinja::Value,
) -> Result<Vec<(String, minijinja::Value)>, Error> {
    let wrong = || {
        Error::msg(format!(
            "{view}<{}>::context_with must give a map, such as `context! {{ choices }}`",
            M::META.name
        ))
    };
    if value.kind() != minijinja::value::ValueKind::Map {
        return Err(wrong());
    }
    let mut entries = Vec::new();
    for key in value.try_iter().map_err(|_| wrong())? {
        let item = value.get_item(&key).map_err(|_| wrong())?;
        entries.push((key.to_string(), item));
    }
    Ok(entries)
}

/// A success URL computed from the saved object.
type UrlFn<M> = Arc<dyn Fn(&M, &crate::routing::Urls) -> Result<String, Error> + Send + Sync>;

/// Where a form view goes after success.
#[derive(Clone)]
enum SuccessUrl<M> {
    /// Not set: a startup panic says so.
    Missing,
    /// A path with `{field}` placeholders (Django formats `success_url`
    /// with the object's fields the same way).
    Pattern(String),
    /// Computed from the object and the URL table.
    With(UrlFn<M>),
}

impl<M: Model> SuccessUrl<M> {
    fn check(&self, view: &str) {
        assert!(
            !matches!(self, SuccessUrl::Missing),
            "{view}<{model}> needs .success_url(\"/path/{{id}}/\") or .success_url_with(...): \
             where to go after it succeeds",
            model = M::META.name
        );
    }

    fn resolve(&self, object: &M, urls: &crate::routing::Urls) -> Result<String, Error> {
        match self {
            SuccessUrl::Missing => Err(Error::msg("no success_url")),
            SuccessUrl::Pattern(pattern) => Ok(fill(pattern, object)),
            SuccessUrl::With(compute) => compute(object, urls),
        }
    }
}

/// `pattern` with each `{field}` replaced by the object's value (`{pk}` is
/// the primary key); unknown names stay as they are.
fn fill<M: Model>(pattern: &str, object: &M) -> String {
    let values = object.to_values();
    let text_of = |name: &str| -> Option<String> {
        let index = if name == "pk" {
            Some(M::META.primary_key)
        } else {
            M::META.fields.iter().position(|f| f.name == name)
        }?;
        let value = values.get(index)?;
        crate::forms::bound::value_text(value)
    };
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => match text_of(&after[..close]) {
                Some(text) => {
                    out.push_str(
                        &percent_encoding::utf8_percent_encode(&text, SEGMENT).to_string(),
                    );
                    rest = &after[close + 1..];
                }
                None => {
                    out.push('{');
                    rest = after;
                }
            },
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// What a value may not hold raw inside one path segment.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    // Browsers read `\` as `/` (`/\evil.example` leaves the site), and a
    // `:` could start a scheme.
    .add(b'\\')
    .add(b':');

/// A route serving `router`, listed as `View<Model>` by the `routes` command.
fn route<M: Model>(
    view: &str,
    methods: &[&'static str],
    router: axum::routing::MethodRouter,
) -> Route {
    let mut route = Route::from(router);
    route.handlers = methods
        .iter()
        .map(|method| HandlerInfo {
            method,
            handler: format!("{view}<{}>", std::any::type_name::<M>()),
        })
        .collect();
    route
}

/// A template context of these names and values.
fn context_of(pairs: Vec<(String, minijinja::Value)>) -> minijinja::Value {
    minijinja::Value::from(
        pairs
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>(),
    )
}

/// The URL's parameters (none for a route without any).
fn path_params(
    params: Option<axum::extract::Path<HashMap<String, String>>>,
) -> HashMap<String, String> {
    params
        .map(|axum::extract::Path(params)| params)
        .unwrap_or_default()
}

/// The context of an object page: `object` and `question`, plus `extra`.
fn object_context<M: Model + serde::Serialize>(
    object: &M,
    extra: Vec<(String, minijinja::Value)>,
) -> minijinja::Value {
    let value = minijinja::Value::from(minijinja::value::Serde(object));
    let mut pairs = vec![
        ("object".to_owned(), value.clone()),
        (object_name::<M>(), value),
    ];
    pairs.extend(extra);
    context_of(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(estate_macros::Model, Debug, Clone, serde::Serialize)]
    #[model(crate = "crate::orm", table = "t_post")]
    struct Post {
        id: estate_orm::Auto<i64>,
        #[model(max_length = 50)]
        slug: String,
    }

    #[test]
    fn success_urls_are_filled_from_the_object() {
        let post = Post {
            id: estate_orm::Auto::Set(7),
            slug: "a b/c".into(),
        };
        assert_eq!(fill("/posts/{id}/", &post), "/posts/7/");
        assert_eq!(fill("/posts/{pk}/{slug}/", &post), "/posts/7/a%20b%2Fc/");
        assert_eq!(fill("/x/{nope}/{", &post), "/x/{nope}/{");
        // No way off the site through a value.
        let sneaky = Post {
            id: estate_orm::Auto::Set(1),
            slug: "\\evil.example:80".into(),
        };
        assert_eq!(fill("/{slug}/", &sneaky), "/%5Cevil.example%3A80/");
    }
}
