//! The admin's routes: login and logout for staff, the index, the
//! stylesheet, and each registered model's pages (dispatched to its
//! [`AdminEntry`](super::entry::AdminEntry)).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Extension, Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, StatusCode};

use super::entry::{AdminEntry, AdminRequest, ModelPerms};
use super::model_admin::capitalised;
use super::{LogEntry, SCRIPT, STYLESHEET, Site};
use crate::app_module::{AppModule, Models};
use crate::auth::forms::LoginForm;
use crate::auth::login::LoginOutcome;
use crate::auth::views::{RequestFacts, throttled, throttled_message};
use crate::auth::{Auth, CurrentUser};
use crate::context::AppContext;
use crate::db::Db;
use crate::error::Error;
use crate::forms::{Form, FormData};
use crate::messages::Messages;
use crate::routing::{Urls, get, post};
use crate::templates::{Template, context};
use estate_orm::{Choices as _, Model as _};

/// Django's message when the credentials are not a staff account's.
const NOT_STAFF: &str = "Please enter the correct username and password for a staff account. \
                         Note that both fields may be case-sensitive.";

/// Admin pages are never cached (Django's `never_cache`): they show
/// private data and change with every save.
fn never_cache(mut response: Response) -> Response {
    response.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate, private"),
    );
    response
}

/// The site, provided to the admin's handlers.
#[derive(Clone)]
struct SiteHandle(Arc<Site>);

fn site(context: &AppContext) -> Result<Arc<Site>, Error> {
    context
        .get::<SiteHandle>()
        .map(|s| s.0.clone())
        .ok_or_else(|| Error::msg("the admin site was not started"))
}

/// The app label of the app that installed `meta`, if any.
pub(crate) fn app_label_of(context: &AppContext, meta: &estate_orm::ModelMeta) -> Option<String> {
    context.apps().iter().find_map(|app| {
        app.extensions
            .get::<Models>()
            .filter(|models| models.0.iter().any(|m| m.table == meta.table))
            .map(|_| app.name.clone())
    })
}

/// Staff only: anyone else gets the redirect to the admin login, coming
/// back here.
fn login_unless_staff(user: &CurrentUser, urls: &Urls, uri: &http::Uri) -> Option<Response> {
    if user.is_staff() {
        return None;
    }
    let login = match urls.reverse("admin:login", ()) {
        Ok(login) => login,
        Err(err) => return Some(Error::from(err).into_response()),
    };
    let next = uri.path_and_query().map_or("/", |p| p.as_str());
    let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    Some(Redirect::to(&format!("{login}?next={next}")).into_response())
}

fn login_page(site: &Site, form: impl serde::Serialize, next: &str) -> Template {
    Template::render(
        "admin/login.html",
        context! {
            site_title => site.site_title.clone(),
            site_header => site.site_header.clone(),
            form,
            next,
        },
    )
}

/// `GET/POST /admin/login/`: staff only, failed logins limited as on the
/// site's own login page.
async fn login(
    method: Method,
    context: AppContext,
    auth: Auth,
    db: Db,
    current: CurrentUser,
    urls: Urls,
    facts: RequestFacts,
    data: FormData,
) -> Result<Response, Error> {
    let site = site(&context)?;
    let next = facts.safe_next(data.get("next").map(str::to_owned));
    let index = urls.reverse("admin:index", ())?;
    let shown_next = next.clone().unwrap_or_default();
    if method != Method::POST {
        if current.is_staff() {
            return Ok(Redirect::to(next.as_deref().unwrap_or(&index)).into_response());
        }
        return Ok(login_page(&site, LoginForm::unbound(), &shown_next).into_response());
    }
    let mut form = LoginForm::bind(data);
    let Some(credentials) = form.validate() else {
        return Ok(login_page(&site, form, &shown_next).into_response());
    };
    let outcome = auth
        .throttled_login(
            &db,
            &current,
            &credentials.username,
            &credentials.password,
            facts.address.as_deref(),
            |user| user.is_staff,
        )
        .await?;
    match outcome {
        LoginOutcome::LoggedIn => {
            Ok(Redirect::to(next.as_deref().unwrap_or(&index)).into_response())
        }
        LoginOutcome::Refused => {
            form.add_error(None, NOT_STAFF);
            Ok(login_page(&site, form, &shown_next).into_response())
        }
        LoginOutcome::Throttled(wait) => {
            form.add_error(None, throttled_message(wait));
            let page = (
                StatusCode::TOO_MANY_REQUESTS,
                login_page(&site, form, &shown_next),
            );
            Ok(throttled(page.into_response(), wait))
        }
    }
}

/// `POST /admin/logout/`.
async fn logout(current: CurrentUser, urls: Urls) -> Result<Response, Error> {
    current.logout().await;
    Ok(Redirect::to(&urls.reverse("admin:login", ())?).into_response())
}

/// `GET /admin/`: the models the user may see, by app.
async fn index(
    context: AppContext,
    db: Db,
    current: CurrentUser,
    urls: Urls,
    uri: http::Uri,
) -> Result<Response, Error> {
    if let Some(login) = login_unless_staff(&current, &urls, &uri) {
        return Ok(login);
    }
    let site = site(&context)?;
    let mut apps: Vec<minijinja::Value> = Vec::new();
    for app in context.apps() {
        let mut models = Vec::new();
        for entry in &site.entries {
            let meta = entry.meta();
            let installed = app
                .extensions
                .get::<Models>()
                .is_some_and(|m| m.0.iter().any(|m| m.table == meta.table));
            if !installed {
                continue;
            }
            let name = meta.name.to_lowercase();
            let perms = ModelPerms::of(&current, &app.name, &name).await?;
            if !perms.any() {
                continue;
            }
            models.push(context! {
                name => capitalised(meta.verbose_name_plural),
                changelist_url => perms.view.then(|| urls.reverse("admin:changelist", (app.name.as_str(), name.as_str()))).transpose()?,
                add_url => perms.add.then(|| urls.reverse("admin:add", (app.name.as_str(), name.as_str()))).transpose()?,
            });
        }
        if !models.is_empty() {
            apps.push(context! { name => app.verbose_name.clone(), models });
        }
    }
    let recent: Vec<minijinja::Value> = match current.id() {
        Some(id) => LogEntry::objects()
            .filter(LogEntry::USER.eq(id))
            .limit(10)
            .all(&db)
            .await?
            .into_iter()
            .map(|entry| {
                context! {
                    repr => entry.object_repr,
                    model => entry.model,
                    flag => entry.action_flag.label(),
                }
            })
            .collect(),
        None => Vec::new(),
    };
    Ok(never_cache(
        Template::render(
            "admin/index.html",
            context! {
                site_title => site.site_title.clone(),
                site_header => site.site_header.clone(),
                apps,
                recent,
            },
        )
        .into_response(),
    ))
}

/// `GET /admin/static/admin.css`.
async fn stylesheet() -> Response {
    let mut response = STYLESHEET.into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    response.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// `GET /admin/static/admin.js`: the widgets' script (autocomplete, the
/// two-pane selector, prepopulated slugs).
async fn script() -> Response {
    let mut response = SCRIPT.into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    response.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// `GET /admin/autocomplete/?app_label=&model_name=&field_name=&term=&page=`:
/// the rows an autocomplete box offers, as Django's JSON
/// (`{"results": [{"id", "text"}], "pagination": {"more"}}`). The field
/// must be in its admin's `autocomplete_fields`, and the user must be
/// allowed to view the model searched; anything else is a 403, as in
/// Django, so the endpoint never lists rows of models the user cannot see.
async fn autocomplete(request: ModelRequest) -> Result<Response, Error> {
    if let Some(login) = login_unless_staff(&request.current, &request.urls, &request.uri) {
        return Ok(login);
    }
    let site = site(&request.context)?;
    let parameter = |name: &str| request.query.get(name).map(String::as_str).unwrap_or("");
    let refused = |why: &str| Error::forbidden(format!("Autocomplete refused: {why}."));
    let (app_label, model_name, field_name) = (
        parameter("app_label"),
        parameter("model_name"),
        parameter("field_name"),
    );
    let source = site
        .entries
        .iter()
        .find(|e| {
            e.meta().name.eq_ignore_ascii_case(model_name)
                && app_label_of(&request.context, e.meta()).as_deref() == Some(app_label)
        })
        .ok_or_else(|| refused("app_label and model_name name no model of the admin"))?;
    let (_, target) = source
        .autocomplete_targets()
        .into_iter()
        .find(|(name, _)| *name == field_name)
        .ok_or_else(|| refused("field_name is not one of the model's autocomplete_fields"))?;
    let searched = site
        .entries
        .iter()
        .find(|e| e.meta().table == target.table)
        .ok_or_else(|| refused("the related model is not registered"))?;
    let target_label = app_label_of(&request.context, target)
        .ok_or_else(|| refused("the related model is not installed"))?;
    let perms =
        ModelPerms::of(&request.current, &target_label, &target.name.to_lowercase()).await?;
    if !perms.view {
        return Err(refused("you may not view the related model"));
    }
    let page = match request.query.get("page") {
        None => 1,
        Some(text) => match text.parse::<u64>() {
            Ok(page) if (1..=1_000_000).contains(&page) => page,
            _ => return Err(Error::not_found(format!("Invalid page ({text})."))),
        },
    };
    let term = super::model_admin::search_text(request.query.get("term"));
    let found = searched.search_rows(&request.db, &term, page).await?;
    let more = found.more;
    let results: Vec<serde_json::Value> = found
        .rows
        .into_iter()
        .map(|(id, text)| serde_json::json!({ "id": id, "text": text }))
        .collect();
    let body = serde_json::json!({ "results": results, "pagination": { "more": more } });
    Ok(never_cache(axum::Json(body).into_response()))
}

/// Which page of a model.
enum Page {
    List,
    Add,
    Change(String),
    Delete(String),
    History(String),
    Password(String),
}

/// Everything a model page needs from the request.
struct ModelRequest {
    method: Method,
    context: AppContext,
    current: CurrentUser,
    db: Db,
    urls: Urls,
    uri: http::Uri,
    messages: Option<Extension<Messages>>,
    query: HashMap<String, String>,
    data: Option<FormData>,
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for ModelRequest {
    type Rejection = Response;

    async fn from_request(
        request: axum::extract::Request,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        use axum::extract::FromRequestParts as _;
        let (mut parts, body) = request.into_parts();
        let reject = IntoResponse::into_response;
        let context = AppContext::from_request_parts(&mut parts, state)
            .await
            .map_err(reject)?;
        let current = CurrentUser::from_request_parts(&mut parts, state)
            .await
            .map_err(reject)?;
        let db = Db::from_request_parts(&mut parts, state)
            .await
            .map_err(reject)?;
        let urls = Urls::from_request_parts(&mut parts, state)
            .await
            .map_err(reject)?;
        let messages = parts.extensions.get::<Messages>().cloned().map(Extension);
        let query = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .map(|q| q.0)
            .unwrap_or_default();
        let method = parts.method.clone();
        let uri = parts.uri.clone();
        let data = if method == Method::POST {
            // A POST without a body (a delete confirmation from a script)
            // is an empty form; a body of the wrong type is refused.
            let typed = parts.headers.contains_key(CONTENT_TYPE);
            let request = axum::extract::Request::from_parts(parts, body);
            match FormData::from_request(request, state).await {
                Ok(data) => Some(data),
                Err(_) if !typed => Some(FormData::default()),
                Err(err) => return Err(err.into_response()),
            }
        } else {
            None
        };
        Ok(ModelRequest {
            method,
            context,
            current,
            db,
            urls,
            uri,
            messages,
            query,
            data,
        })
    }
}

async fn model_page(
    request: ModelRequest,
    app_label: String,
    model_name: String,
    page: Page,
) -> Result<Response, Error> {
    if let Some(login) = login_unless_staff(&request.current, &request.urls, &request.uri) {
        return Ok(login);
    }
    let site = site(&request.context)?;
    // Only registered models of installed apps; names are matched, never
    // used as they come.
    let entry: Option<Arc<dyn AdminEntry>> = site
        .entries
        .iter()
        .find(|e| {
            e.meta().name.eq_ignore_ascii_case(&model_name)
                && app_label_of(&request.context, e.meta()).as_deref() == Some(app_label.as_str())
        })
        .cloned();
    let Some(entry) = entry else {
        return Err(Error::not_found(format!(
            "There is no admin page for {app_label}.{model_name}."
        )));
    };
    let model_name = entry.meta().name.to_lowercase();
    let perms = ModelPerms::of(&request.current, &app_label, &model_name).await?;
    let user_id = request.current.id().unwrap_or_default();
    let auth = request.current.auth().clone();
    let current = request.current.clone();
    let context = request.context.clone();
    let admin_request = AdminRequest {
        site,
        db: request.db.0.clone(),
        messages: request.messages.map(|m| m.0),
        urls: request.urls,
        method: request.method,
        query: request.query,
        data: request.data,
        app_label,
        model_name,
        perms,
        user_id,
        auth,
        current,
        context,
    };
    let response = match page {
        Page::List => entry.changelist(admin_request).await,
        Page::Add => entry.add(admin_request).await,
        Page::Change(id) => entry.change(admin_request, id).await,
        Page::Delete(id) => entry.delete(admin_request, id).await,
        Page::History(id) => entry.history(admin_request, id).await,
        Page::Password(id) => entry.password(admin_request, id).await,
    };
    response.map(never_cache)
}

async fn changelist(
    Path((app, model)): Path<(String, String)>,
    request: ModelRequest,
) -> Result<Response, Error> {
    model_page(request, app, model, Page::List).await
}

async fn add(
    Path((app, model)): Path<(String, String)>,
    request: ModelRequest,
) -> Result<Response, Error> {
    model_page(request, app, model, Page::Add).await
}

async fn change(
    Path((app, model, id)): Path<(String, String, String)>,
    request: ModelRequest,
) -> Result<Response, Error> {
    model_page(request, app, model, Page::Change(id)).await
}

async fn delete(
    Path((app, model, id)): Path<(String, String, String)>,
    request: ModelRequest,
) -> Result<Response, Error> {
    model_page(request, app, model, Page::Delete(id)).await
}

async fn history(
    Path((app, model, id)): Path<(String, String, String)>,
    request: ModelRequest,
) -> Result<Response, Error> {
    model_page(request, app, model, Page::History(id)).await
}

async fn password(
    Path((app, model, id)): Path<(String, String, String)>,
    request: ModelRequest,
) -> Result<Response, Error> {
    model_page(request, app, model, Page::Password(id)).await
}

/// The admin's routes, with Django's names in the `admin` namespace.
pub(crate) fn routes(module: AppModule, site: Arc<Site>) -> AppModule {
    let file_models: Vec<&'static str> = site
        .entries
        .iter()
        .filter(|e| e.meta().fields.iter().any(|f| f.media_file))
        .map(|e| e.meta().name)
        .collect();
    module
        .check(move |ctx| {
            if ctx.settings.media_root.is_some() || file_models.is_empty() {
                return Vec::new();
            }
            vec![crate::cli::CheckMessage::error(
                "admin.E001",
                format!(
                    "{} ha{} file fields but `media_root` is not set: set media_root = \"media\" \
                     in estate.toml (or ESTATE_MEDIA_ROOT) so the admin can store uploads",
                    file_models.join(", "),
                    if file_models.len() == 1 { "s" } else { "ve" }
                ),
            )]
        })
        .on_startup(move |mut startup| async move {
            startup.provide(SiteHandle(site));
            Ok(startup)
        })
        .route("/", get(index).name("index"))
        .route("/login/", get(login).post(login).name("login"))
        .route("/logout/", post(logout).name("logout"))
        .route("/static/admin.css", get(stylesheet).name("stylesheet"))
        .route("/static/admin.js", get(script).name("script"))
        .route("/autocomplete/", get(autocomplete).name("autocomplete"))
        .route(
            "/{app_label}/{model_name}/",
            get(changelist).post(changelist).name("changelist"),
        )
        .route(
            "/{app_label}/{model_name}/add/",
            get(add).post(add).name("add"),
        )
        .route(
            "/{app_label}/{model_name}/{object_id}/change/",
            get(change).post(change).name("change"),
        )
        .route(
            "/{app_label}/{model_name}/{object_id}/delete/",
            get(delete).post(delete).name("delete"),
        )
        .route(
            "/{app_label}/{model_name}/{object_id}/history/",
            get(history).name("history"),
        )
        .route(
            "/{app_label}/{model_name}/{object_id}/password/",
            get(password).post(password).name("password"),
        )
}
