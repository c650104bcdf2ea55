//! [`Resource`]: one model as REST endpoints (Django REST Framework's
//! `ModelViewSet` with its `ModelSerializer`, router and filters, in one
//! builder).
//!
//! ```no_run
//! # use estate::prelude::*;
//! # #[derive(Model, Clone, Debug)]
//! # struct Question { id: Auto<i64>, #[model(max_length = 200)] question_text: String,
//! #     pub_date: estate::orm::chrono::DateTime<estate::orm::chrono::Utc> }
//! use estate_api::{Resource, permissions::IsAuthenticatedOrReadOnly};
//!
//! let questions = Resource::<Question>::new("questions")
//!     .read_only(&["pub_date"])
//!     .on_create(|question, _user| question.pub_date = estate::orm::chrono::Utc::now())
//!     .filter_fields(&["pub_date"])
//!     .search_fields(&["question_text"])
//!     .ordering_fields(&["pub_date", "id"])
//!     .permission(IsAuthenticatedOrReadOnly);
//! ```
//!
//! | request                        | action          | answer                        |
//! |--------------------------------|-----------------|-------------------------------|
//! | `GET /api/questions/`          | list            | 200 page of rows              |
//! | `POST /api/questions/`         | create          | 201 the row, `Location`       |
//! | `GET /api/questions/{id}/`     | retrieve        | 200 the row                   |
//! | `PUT /api/questions/{id}/`     | update          | 200 the row                   |
//! | `PATCH /api/questions/{id}/`   | partial update  | 200 the row                   |
//! | `DELETE /api/questions/{id}/`  | destroy         | 204                           |

use std::future::Future;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{FromRequestParts as _, Request};
use axum::response::{IntoResponse, Response};
use estate::AppContext;
use estate::db::{Database, DbError, ErrorKind};
use estate::orm::model::serialization::{value_from_json, value_to_json};
use estate::orm::{Condition, FieldType, Model, OrderBy, QuerySet, Value};
use estate::routing::Route;
use futures_util::future::BoxFuture;
use http::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use http::request::Parts;
use http::{HeaderValue, Method, StatusCode};
use serde_json::{Map, Value as Json};

use crate::auth::{ApiUser, authenticate};
use crate::permissions::{Permission, PermissionRequest};
use crate::problem::{ApiError, FieldErrors, NON_FIELD_ERRORS, Problem};
use crate::query::{CursorPosition, ListQuery, PageRequest, Pagination, QueryOptions};
use crate::serializer::{ComputedField, Nested, Serializer, needs_server_value};

/// The standard actions of a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// `GET /items/`.
    List,
    /// `GET /items/{id}/`.
    Retrieve,
    /// `POST /items/`.
    Create,
    /// `PUT /items/{id}/`.
    Update,
    /// `PATCH /items/{id}/`.
    PartialUpdate,
    /// `DELETE /items/{id}/`.
    Destroy,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 6] = [
        Action::List,
        Action::Retrieve,
        Action::Create,
        Action::Update,
        Action::PartialUpdate,
        Action::Destroy,
    ];
    /// The reading actions.
    pub const READ_ONLY: [Action; 2] = [Action::List, Action::Retrieve];
}

type Validator<M> = Arc<dyn Fn(&M) -> Result<(), FieldErrors> + Send + Sync>;
type CreateHook<M> = Arc<dyn Fn(&mut M, &ApiUser) + Send + Sync>;
type Scope<M> = Arc<dyn Fn(QuerySet<M>, &ApiUser) -> QuerySet<M> + Send + Sync>;
type ActionHandler<M> =
    Arc<dyn Fn(ActionRequest<M>) -> BoxFuture<'static, Result<Json, ApiError>> + Send + Sync>;

/// What a custom action's function gets.
#[non_exhaustive]
pub struct ActionRequest<M> {
    /// The database.
    pub db: Database,
    /// The caller.
    pub user: ApiUser,
    /// The row, for an action on one row (`/items/{id}/name/`).
    pub object: Option<M>,
    /// The JSON body (an object), for POST, PUT and PATCH actions.
    pub body: Option<Map<String, Json>>,
}

/// A custom action: `POST /choices/{id}/vote/` (Django REST Framework's
/// `@action`).
pub(crate) struct CustomAction<M> {
    pub(crate) name: &'static str,
    pub(crate) method: Method,
    pub(crate) detail: bool,
    pub(crate) summary: String,
    handler: ActionHandler<M>,
}

/// A model as REST endpoints; see the module docs.
pub struct Resource<M: Model> {
    name: String,
    actions: Vec<Action>,
    fields: Option<Vec<&'static str>>,
    exclude: Vec<&'static str>,
    read_only: Vec<&'static str>,
    write_only: Vec<&'static str>,
    computed: Vec<ComputedField<M>>,
    nested: Vec<(&'static str, Vec<&'static str>)>,
    filter_fields: Vec<&'static str>,
    search_fields: Vec<&'static str>,
    ordering_fields: Vec<&'static str>,
    ordering: Option<Vec<&'static str>>,
    pagination: Pagination,
    permission: Option<Arc<dyn Permission>>,
    validators: Vec<Validator<M>>,
    on_create: Option<CreateHook<M>>,
    scope: Option<Scope<M>>,
    custom: Vec<CustomAction<M>>,
    description: String,
}

impl<M: Model> Resource<M> {
    /// A resource at `/{prefix}/{name}/` with every action, every field,
    /// 20 rows a page, and the API's default permission policy. Fields
    /// whose name contains `password` are never shown (write-only).
    pub fn new(name: &str) -> Self {
        Resource {
            name: name.trim_matches('/').to_owned(),
            actions: Action::ALL.to_vec(),
            fields: None,
            exclude: Vec::new(),
            read_only: Vec::new(),
            write_only: Vec::new(),
            computed: Vec::new(),
            nested: Vec::new(),
            filter_fields: Vec::new(),
            search_fields: Vec::new(),
            ordering_fields: Vec::new(),
            ordering: None,
            pagination: Pagination::default(),
            permission: None,
            validators: Vec::new(),
            on_create: None,
            scope: None,
            custom: Vec::new(),
            description: String::new(),
        }
    }

    /// Only these actions (`&Action::READ_ONLY` for a read-only API).
    #[must_use]
    pub fn actions(mut self, actions: &[Action]) -> Self {
        self.actions = actions.to_vec();
        self
    }

    /// Only these model fields are shown and accepted (others keep their
    /// default on create).
    #[must_use]
    pub fn fields(mut self, fields: &[&'static str]) -> Self {
        self.fields = Some(fields.to_vec());
        self
    }

    /// Every field but these.
    #[must_use]
    pub fn exclude(mut self, fields: &[&'static str]) -> Self {
        self.exclude = fields.to_vec();
        self
    }

    /// Shown but never accepted (sent values are ignored).
    #[must_use]
    pub fn read_only(mut self, fields: &[&'static str]) -> Self {
        self.read_only = fields.to_vec();
        self
    }

    /// Accepted but never shown.
    #[must_use]
    pub fn write_only(mut self, fields: &[&'static str]) -> Self {
        self.write_only = fields.to_vec();
        self
    }

    /// A read-only member computed from the row, with its JSON Schema for
    /// the docs (Django REST Framework's `SerializerMethodField`):
    /// `.computed("was_recent", json!({"type": "boolean"}), |q| json!(q.was_recent()))`.
    #[must_use]
    pub fn computed(
        mut self,
        name: &'static str,
        schema: Json,
        compute: impl Fn(&M) -> Json + Send + Sync + 'static,
    ) -> Self {
        self.computed.push(ComputedField {
            name,
            schema,
            compute: Arc::new(compute),
        });
        self
    }

    /// Shows the foreign key `field` as an object of the related row's
    /// `fields` instead of its key (on reads; writes still take the key).
    /// Loaded with one query per page, not per row.
    #[must_use]
    pub fn nested(mut self, field: &'static str, fields: &[&'static str]) -> Self {
        self.nested.push((field, fields.to_vec()));
        self
    }

    /// Fields the list filters on, with the lookups of their type:
    /// `?question=3`, `?pub_date__gte=2024-01-01`, `?id__in=1,2,3`.
    #[must_use]
    pub fn filter_fields(mut self, fields: &[&'static str]) -> Self {
        self.filter_fields = fields.to_vec();
        self
    }

    /// Text fields `?search=` looks in (each word must appear in one of
    /// them, ignoring case); `__` follows relations: `"question__question_text"`.
    #[must_use]
    pub fn search_fields(mut self, fields: &[&'static str]) -> Self {
        self.search_fields = fields.to_vec();
        self
    }

    /// Fields the client may order by: `?ordering=-pub_date,id`.
    #[must_use]
    pub fn ordering_fields(mut self, fields: &[&'static str]) -> Self {
        self.ordering_fields = fields.to_vec();
        self
    }

    /// The order of lists when the client asks none (`&["-pub_date"]`);
    /// by default the model's ordering, else the key. With cursor
    /// pagination, the first field is the cursor's.
    #[must_use]
    pub fn ordering(mut self, fields: &[&'static str]) -> Self {
        self.ordering = Some(fields.to_vec());
        self
    }

    /// Page-number (default, 20 a page, at most 100) or cursor pagination.
    #[must_use]
    pub fn pagination(mut self, pagination: Pagination) -> Self {
        self.pagination = pagination;
        self
    }

    /// The permission policy of this resource (else the API's default).
    #[must_use]
    pub fn permission(mut self, permission: impl Permission) -> Self {
        self.permission = Some(Arc::new(permission));
        self
    }

    /// A check of the whole row before it is written (create and
    /// update); its errors are answered as 400 field errors (use
    /// [`NON_FIELD_ERRORS`](crate::problem::NON_FIELD_ERRORS) for errors
    /// about several fields).
    #[must_use]
    pub fn validator(
        mut self,
        check: impl Fn(&M) -> Result<(), FieldErrors> + Send + Sync + 'static,
    ) -> Self {
        self.validators.push(Arc::new(check));
        self
    }

    /// Sets server-side values on a new row before it is validated and
    /// inserted (the owner, a timestamp): Django REST Framework's
    /// `perform_create`. Needed when a field the client cannot send has no
    /// default.
    #[must_use]
    pub fn on_create(mut self, hook: impl Fn(&mut M, &ApiUser) + Send + Sync + 'static) -> Self {
        self.on_create = Some(Arc::new(hook));
        self
    }

    /// Narrows the rows the caller sees and may change (Django REST
    /// Framework's `get_queryset`): rows outside answer 404.
    /// `.scope(|rows, user| rows.filter(Note::OWNER.eq(user.id().unwrap_or(0))))`.
    #[must_use]
    pub fn scope(
        mut self,
        scope: impl Fn(QuerySet<M>, &ApiUser) -> QuerySet<M> + Send + Sync + 'static,
    ) -> Self {
        self.scope = Some(Arc::new(scope));
        self
    }

    /// A custom action on one row: `method /items/{id}/{name}/`, checked
    /// by the resource's permission policy, answering 200 with the JSON
    /// the function returns.
    #[must_use]
    pub fn detail_action<F, Fut>(self, name: &'static str, method: Method, action: F) -> Self
    where
        F: Fn(ActionRequest<M>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Json, ApiError>> + Send + 'static,
    {
        self.custom_action(name, method, true, action)
    }

    /// A custom action on the collection: `method /items/{name}/`.
    #[must_use]
    pub fn list_action<F, Fut>(self, name: &'static str, method: Method, action: F) -> Self
    where
        F: Fn(ActionRequest<M>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Json, ApiError>> + Send + 'static,
    {
        self.custom_action(name, method, false, action)
    }

    fn custom_action<F, Fut>(
        mut self,
        name: &'static str,
        method: Method,
        detail: bool,
        action: F,
    ) -> Self
    where
        F: Fn(ActionRequest<M>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Json, ApiError>> + Send + 'static,
    {
        self.custom.push(CustomAction {
            name,
            summary: format!("{name} ({})", M::META.verbose_name),
            method,
            detail,
            handler: Arc::new(move |request| Box::pin(action(request))),
        });
        self
    }

    /// A description for the docs.
    #[must_use]
    pub fn description(mut self, text: &str) -> Self {
        self.description = text.to_owned();
        self
    }

    /// Checks the options against the model and resolves them; a mistake
    /// panics with a message naming the resource, the field and the fix
    /// (at startup, like Django's system checks).
    pub(crate) fn compile(self) -> Compiled<M> {
        let meta = M::META;
        let resource = &self.name;
        let index_of = |name: &str, option: &str| -> usize {
            meta.fields
                .iter()
                .position(|f| f.name == name)
                .unwrap_or_else(|| {
                    let names: Vec<&str> = meta.fields.iter().map(|f| f.name).collect();
                    let hint = if meta.many_to_many(name).is_some() {
                        " (many-to-many fields are not offered by resources yet)"
                    } else {
                        ""
                    };
                    panic!(
                        "API resource `{resource}`: {option} names `{name}`, which is not a field \
                         of {}{hint}; its fields are: {}",
                        meta.name,
                        names.join(", ")
                    )
                })
        };
        assert!(
            !resource.is_empty() && !resource.contains(['{', '}', '/']),
            "API resource name {resource:?} must be a plain path segment such as \"questions\""
        );
        let listed: Vec<usize> = match &self.fields {
            Some(fields) => fields.iter().map(|f| index_of(f, "fields")).collect(),
            None => (0..meta.fields.len()).collect(),
        };
        let excluded: Vec<usize> = self
            .exclude
            .iter()
            .map(|f| index_of(f, "exclude"))
            .collect();
        let read_only: Vec<usize> = self
            .read_only
            .iter()
            .map(|f| index_of(f, "read_only"))
            .collect();
        let mut write_only: Vec<usize> = self
            .write_only
            .iter()
            .map(|f| index_of(f, "write_only"))
            .collect();
        let included: Vec<usize> = listed
            .into_iter()
            .filter(|i| !excluded.contains(i))
            .collect();
        for &i in &included {
            if meta.fields[i].name.contains("password") && !write_only.contains(&i) {
                write_only.push(i);
            }
        }
        let output: Vec<usize> = included
            .iter()
            .copied()
            .filter(|i| !write_only.contains(i))
            .collect();
        let writable: Vec<usize> = included
            .iter()
            .copied()
            .filter(|&i| {
                let field = &meta.fields[i];
                !read_only.contains(&i) && !field.is_auto()
            })
            .collect();
        let mut ignored_inputs: Vec<&'static str> = included
            .iter()
            .filter(|i| !writable.contains(i))
            .map(|&i| meta.fields[i].name)
            .collect();
        ignored_inputs.extend(self.computed.iter().map(|c| c.name));
        if self.actions.contains(&Action::Create) && self.on_create.is_none() {
            let missing: Vec<&str> = meta
                .fields
                .iter()
                .enumerate()
                .filter(|(i, f)| !writable.contains(i) && needs_server_value(f))
                .map(|(_, f)| f.name)
                .collect();
            assert!(
                missing.is_empty(),
                "API resource `{resource}` cannot create a {}: {} cannot be sent by clients and \
                 has no default. Set it with .on_create(|row, user| ...), give it \
                 #[model(default = ..)], or leave create out with .actions(..)",
                meta.name,
                missing.join(", ")
            );
        }
        let nested = self
            .nested
            .iter()
            .map(|(field, fields)| {
                let index = index_of(field, "nested");
                let relation = meta.fields[index].relation.as_ref().unwrap_or_else(|| {
                    panic!("API resource `{resource}`: nested `{field}` is not a foreign key")
                });
                let target = (relation.target)();
                let fields = fields
                    .iter()
                    .map(|name| {
                        target
                            .fields
                            .iter()
                            .position(|f| f.name == *name)
                            .unwrap_or_else(|| {
                                panic!(
                                    "API resource `{resource}`: nested `{field}` shows `{name}`, \
                                     which is not a field of {}",
                                    target.name
                                )
                            })
                    })
                    .collect();
                Nested {
                    index,
                    target,
                    fields,
                }
            })
            .collect();
        let filters: Vec<usize> = self
            .filter_fields
            .iter()
            .map(|f| {
                let index = index_of(f, "filter_fields");
                assert!(
                    !crate::query::lookups_for(&meta.fields[index]).is_empty(),
                    "API resource `{resource}`: `{f}` holds JSON or bytes and cannot be filtered"
                );
                index
            })
            .collect();
        for field in &self.search_fields {
            if let Err(err) = Condition::<M>::field_icontains(field, "") {
                panic!("API resource `{resource}`: search_fields: {err}");
            }
        }
        for field in &self.ordering_fields {
            index_of(field, "ordering_fields");
        }
        let default_ordering: Vec<String> = match &self.ordering {
            Some(fields) => {
                for field in fields {
                    index_of(field.trim_start_matches('-'), "ordering");
                }
                fields.iter().map(|f| (*f).to_owned()).collect()
            }
            None => meta
                .ordering
                .iter()
                .map(|(name, descending)| format!("{}{name}", if *descending { "-" } else { "" }))
                .collect(),
        };
        let cursor_ordering = default_ordering
            .first()
            .cloned()
            .unwrap_or_else(|| meta.pk().name.to_owned());
        if let Pagination::Cursor { .. } = self.pagination {
            let field = &meta.fields[index_of(cursor_ordering.trim_start_matches('-'), "ordering")];
            assert!(
                !field.null && !matches!(field.field_type, FieldType::Json | FieldType::Bytes),
                "API resource `{resource}`: cursor pagination orders by `{}`, which must be a \
                 field that is never NULL; choose one with .ordering(&[\"-created\"])",
                field.name
            );
        }
        let (page_size, max_page_size) = self.pagination.sizes();
        assert!(
            page_size >= 1 && max_page_size >= page_size,
            "API resource `{resource}`: page_size must be at least 1 and at most max_page_size"
        );
        for action in &self.custom {
            assert!(
                !action.name.is_empty()
                    && action
                        .name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "API resource `{resource}`: action name {:?} must be letters, digits, - and _",
                action.name
            );
        }
        Compiled {
            name: self.name,
            actions: self.actions,
            serializer: Serializer {
                meta,
                output,
                writable,
                write_only,
                computed: self.computed,
                nested,
                ignored_inputs,
            },
            query: QueryOptions {
                filters,
                search: self.search_fields,
                ordering: self.ordering_fields,
                default_ordering,
                pagination: self.pagination,
                cursor_ordering,
            },
            permission: self.permission,
            validators: self.validators,
            on_create: self.on_create,
            scope: self.scope,
            custom: self.custom,
            description: self.description,
            app_label: OnceLock::new(),
        }
    }
}

/// A resource checked and resolved, serving requests.
pub(crate) struct Compiled<M: Model> {
    pub(crate) name: String,
    pub(crate) actions: Vec<Action>,
    pub(crate) serializer: Serializer<M>,
    pub(crate) query: QueryOptions,
    pub(crate) permission: Option<Arc<dyn Permission>>,
    validators: Vec<Validator<M>>,
    on_create: Option<CreateHook<M>>,
    scope: Option<Scope<M>>,
    pub(crate) custom: Vec<CustomAction<M>>,
    pub(crate) description: String,
    app_label: OnceLock<String>,
}

/// What every request of a resource shares.
struct Call {
    db: Database,
    user: ApiUser,
}

/// Whether the client accepts JSON (no `Accept`, `*/*`, `application/*`,
/// `application/json` or a `+json` type, with a non-zero quality).
fn accepts_json(parts: &Parts) -> bool {
    let Some(accept) = parts.headers.get(ACCEPT).and_then(|a| a.to_str().ok()) else {
        return true;
    };
    accept.split(',').any(|item| {
        let mut pieces = item.split(';');
        let media = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = pieces.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        !refused
            && (media == "*/*"
                || media == "application/*"
                || media == "application/json"
                || media.ends_with("+json"))
    })
}

/// The JSON object of a request body: 415 for another media type, 400 for
/// broken JSON, 422 for JSON that is not an object.
async fn json_body(parts: &Parts, body: Body) -> Result<Map<String, Json>, Problem> {
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .map(|c| c.to_str().unwrap_or("(unreadable)").to_owned());
    let media = content_type.as_deref().map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    let is_json = media.as_deref().is_some_and(|m| {
        m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
    });
    if !is_json {
        return Err(Problem::unsupported_media_type(content_type.as_deref()));
    }
    // Estate's core has already limited the body (413 past the limit).
    let bytes = axum::body::to_bytes(body, usize::MAX).await.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body too large or unreadable.",
        )
    })?;
    let json: Json = serde_json::from_slice(&bytes)
        .map_err(|err| Problem::bad_request(format!("JSON parse error - {err}")))?;
    match json {
        Json::Object(map) => Ok(map),
        other => Err(Problem::unprocessable(format!(
            "Expected a JSON object, but got {}.",
            match other {
                Json::Array(_) => "an array",
                Json::String(_) => "a string",
                Json::Number(_) => "a number",
                Json::Bool(_) => "a boolean",
                _ => "null",
            }
        ))),
    }
}

fn json_response(status: StatusCode, json: &Json) -> Response {
    let mut response = Response::new(Body::from(json.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

impl<M: Model> Compiled<M> {
    /// The app that installed the model (for permission names). Models
    /// are matched by table: a `const` reference has no stable address.
    fn app_label(&self, context: &AppContext) -> String {
        self.app_label
            .get_or_init(|| {
                context
                    .apps()
                    .iter()
                    .find(|app| {
                        app.extensions
                            .get::<estate::Models>()
                            .is_some_and(|models| models.0.iter().any(|m| m.table == M::META.table))
                    })
                    .map_or_else(|| M::META.table.to_owned(), |app| app.name.clone())
            })
            .clone()
    }

    /// Authentication, content negotiation and the permission check.
    async fn begin(
        &self,
        parts: &mut Parts,
        default_permission: &Arc<dyn Permission>,
    ) -> Result<Call, ApiError> {
        if !accepts_json(parts) {
            return Err(Problem::not_acceptable().into());
        }
        let context = AppContext::from_request_parts(parts, &()).await?;
        let db = context.get::<Database>().cloned().ok_or_else(|| {
            estate::Error::msg(
                "the API needs a database: set DATABASE_URL (e.g. sqlite://db.sqlite3)",
            )
        })?;
        let user = authenticate(parts, &db).await?;
        let permission = self.permission.as_ref().unwrap_or(default_permission);
        let app_label = self.app_label(&context);
        let model = M::META.name.to_lowercase();
        let request = PermissionRequest {
            method: &parts.method,
            user: &user,
            app_label: &app_label,
            model: &model,
        };
        if !permission.has_permission(&request).await? {
            return Err(if user.is_authenticated() {
                Problem::forbidden("You do not have permission to perform this action.")
            } else {
                Problem::unauthorized("Authentication credentials were not provided.", false)
            }
            .into());
        }
        Ok(Call { db, user })
    }

    fn rows(&self, user: &ApiUser) -> QuerySet<M> {
        let rows = M::objects();
        match &self.scope {
            Some(scope) => scope(rows, user),
            None => rows,
        }
    }

    /// The row with key `raw` (from the path) among the caller's rows.
    async fn object(&self, call: &Call, raw: &str) -> Result<M, ApiError> {
        let pk = M::META.pk();
        let not_found =
            || Problem::not_found(format!("No {} matches the given query.", M::META.name));
        let key = value_from_json(pk, &Json::String(raw.to_owned())).map_err(|_| not_found())?;
        if matches!(key, Value::Null(_)) {
            return Err(not_found().into());
        }
        let condition = Condition::field_equals(pk.name, key)?;
        self.rows(&call.user)
            .filter(condition)
            .first(&call.db)
            .await?
            .ok_or_else(|| not_found().into())
    }

    async fn render_one(&self, call: &Call, row: &M) -> Result<Json, ApiError> {
        let mut rendered = self
            .serializer
            .render_many(&call.db, std::slice::from_ref(row))
            .await?;
        Ok(rendered.pop().unwrap_or(Json::Null))
    }

    /// `GET /items/`.
    async fn list(&self, parts: &Parts, call: Call) -> Result<Response, ApiError> {
        let query = ListQuery::<M>::parse(parts.uri.query(), &self.query)?;
        let mut rows = self.rows(&call.user);
        for condition in query.conditions {
            rows = rows.filter(condition);
        }
        let pk = M::META.pk().name;
        let body = match query.page {
            PageRequest::Number { page, size } => {
                let count = u64::try_from(rows.count(&call.db).await?).unwrap_or(0);
                let last = count.div_ceil(size).max(1);
                if page > last {
                    return Err(Problem::not_found("Invalid page.").into());
                }
                let mut ordering = query.ordering;
                ordering.push(OrderBy::field(pk)?);
                let found = rows
                    .order_by(ordering)
                    .limit(size)
                    .offset((page - 1) * size)
                    .all(&call.db)
                    .await?;
                let link = |page: u64| Json::String(page_link(parts, "page", &page.to_string()));
                serde_json::json!({
                    "count": count,
                    "next": if page < last { link(page + 1) } else { Json::Null },
                    "previous": if page > 1 { link(page - 1) } else { Json::Null },
                    "results": self.serializer.render_many(&call.db, &found).await?,
                })
            }
            PageRequest::Cursor { after, size } => {
                self.cursor_page(parts, &call, rows, after, size).await?
            }
        };
        Ok(json_response(StatusCode::OK, &body))
    }

    /// A page in cursor order: rows after (or, for a "previous" cursor,
    /// before) the position, one more read to know whether more follow.
    async fn cursor_page(
        &self,
        parts: &Parts,
        call: &Call,
        mut rows: QuerySet<M>,
        after: Option<CursorPosition>,
        size: u64,
    ) -> Result<Json, ApiError> {
        let meta = M::META;
        let spec = &self.query.cursor_ordering;
        let descending = spec.starts_with('-');
        let field = meta
            .field(spec.trim_start_matches('-'))
            .expect("checked at startup");
        let pk = meta.pk();
        let reverse = after.as_ref().is_some_and(|a| a.reverse);
        // Reading backwards flips the order; the page is flipped back.
        let forward_desc = descending != reverse;
        if let Some(position) = &after {
            let invalid = || Problem::not_found("Invalid cursor.");
            let value = value_from_json(field, &position.value).map_err(|_| invalid())?;
            let key = value_from_json(pk, &position.key).map_err(|_| invalid())?;
            let beyond = if forward_desc { "lt" } else { "gt" };
            let condition = if field.primary_key {
                Condition::field_lookup(pk.name, beyond, key)?
            } else {
                Condition::field_lookup(field.name, beyond, value.clone())?
                    | (Condition::field_equals(field.name, value)?
                        & Condition::field_lookup(pk.name, beyond, key)?)
            };
            rows = rows.filter(condition);
        }
        let sign = if forward_desc { "-" } else { "" };
        let mut ordering = vec![OrderBy::field(&format!("{sign}{}", field.name))?];
        if !field.primary_key {
            ordering.push(OrderBy::field(&format!("{sign}{}", pk.name))?);
        }
        let mut found = rows
            .order_by(ordering)
            .limit(size + 1)
            .all(&call.db)
            .await?;
        let more = found.len() as u64 > size;
        found.truncate(usize::try_from(size).unwrap_or(usize::MAX));
        if reverse {
            found.reverse();
        }
        let position = |row: &M, reverse: bool| {
            let values = row.to_values();
            let index = meta
                .fields
                .iter()
                .position(|f| f.name == field.name)
                .unwrap_or(0);
            CursorPosition {
                value: value_to_json(&values[index]),
                key: value_to_json(&values[meta.primary_key]),
                reverse,
            }
        };
        let link =
            |position: CursorPosition| Json::String(page_link(parts, "cursor", &position.encode()));
        // Forward: more rows mean a next page; a cursor means a previous one.
        // Backward: the other way round.
        let (has_next, has_previous) = if reverse {
            (true, more)
        } else {
            (more, after.is_some())
        };
        let next = match (has_next, found.last()) {
            (true, Some(last)) => link(position(last, false)),
            _ => Json::Null,
        };
        let previous = match (has_previous, found.first()) {
            (true, Some(first)) => link(position(first, true)),
            _ => Json::Null,
        };
        Ok(serde_json::json!({
            "next": next,
            "previous": previous,
            "results": self.serializer.render_many(&call.db, &found).await?,
        }))
    }

    /// `GET /items/{id}/`.
    async fn retrieve(&self, call: Call, key: &str) -> Result<Response, ApiError> {
        let row = self.object(&call, key).await?;
        Ok(json_response(
            StatusCode::OK,
            &self.render_one(&call, &row).await?,
        ))
    }

    /// Runs the validators and writes the row; unique and foreign-key
    /// violations come back as 400 field errors.
    async fn write(
        &self,
        call: &Call,
        row: &mut M,
        original_key: Option<Value>,
    ) -> Result<(), ApiError> {
        self.serializer.validate(row).map_err(Problem::invalid)?;
        for validator in &self.validators {
            validator(row).map_err(Problem::invalid)?;
        }
        let result = match original_key {
            None => row.insert(&call.db).await.map(|()| true),
            Some(key) => row.update_row(&call.db, key).await,
        };
        match result {
            Ok(true) => Ok(()),
            Ok(false) => Err(Problem::not_found(format!(
                "No {} matches the given query.",
                M::META.name
            ))
            .into()),
            Err(err) => Err(self.write_error(err)),
        }
    }

    fn write_error(&self, err: DbError) -> ApiError {
        let meta = M::META;
        match err.kind() {
            ErrorKind::UniqueViolation => {
                let fields = err.unique_fields(meta).unwrap_or_default();
                let label =
                    |name: &str| meta.field(name).map_or(name, |f| f.verbose_name).to_owned();
                let model = capitalise(meta.verbose_name);
                let mut errors = FieldErrors::new();
                match fields.as_slice() {
                    [one] => {
                        errors.insert(
                            (*one).to_owned(),
                            vec![format!("{model} with this {} already exists.", label(one))],
                        );
                    }
                    _ => {
                        let labels: Vec<String> = fields.iter().map(|f| label(f)).collect();
                        errors.insert(
                            NON_FIELD_ERRORS.to_owned(),
                            vec![if labels.is_empty() {
                                format!("{model} with these values already exists.")
                            } else {
                                format!(
                                    "{model} with this {} already exists.",
                                    labels.join(" and ")
                                )
                            }],
                        );
                    }
                }
                Problem::invalid(errors).into()
            }
            ErrorKind::ForeignKeyViolation => {
                let reported = err.constraint().unwrap_or("");
                let candidates: Vec<&str> = self
                    .serializer
                    .writable
                    .iter()
                    .map(|&i| &meta.fields[i])
                    .filter(|f| f.relation.is_some())
                    .filter(|f| candidates_match(reported, f.column))
                    .map(|f| f.name)
                    .collect();
                let key = match candidates.as_slice() {
                    [one] => *one,
                    _ => NON_FIELD_ERRORS,
                };
                Problem::invalid_field(key, "Invalid pk - object does not exist.").into()
            }
            ErrorKind::Validation | ErrorKind::NotNullViolation | ErrorKind::CheckViolation => {
                Problem::invalid(crate::serializer::db_error_to_fields(&err)).into()
            }
            _ => err.into(),
        }
    }

    /// `POST /items/`.
    async fn create(&self, parts: &Parts, call: Call, body: Body) -> Result<Response, ApiError> {
        let input = json_body(parts, body).await?;
        let mut row = self
            .serializer
            .parse_new(&input)
            .map_err(Problem::invalid)?;
        if let Some(hook) = &self.on_create {
            hook(&mut row, &call.user);
        }
        self.write(&call, &mut row, None).await?;
        let json = self.render_one(&call, &row).await?;
        let mut response = json_response(StatusCode::CREATED, &json);
        let key = value_to_json(&row.pk_value());
        let key = key.as_str().map_or_else(|| key.to_string(), str::to_owned);
        let encoded: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
        let location = format!("{}{encoded}/", parts.uri.path());
        if let Ok(value) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(LOCATION, value);
        }
        Ok(response)
    }

    /// `PUT` and `PATCH /items/{id}/`.
    async fn update(
        &self,
        parts: &Parts,
        call: Call,
        key: &str,
        body: Body,
        partial: bool,
    ) -> Result<Response, ApiError> {
        let mut row = self.object(&call, key).await?;
        let input = json_body(parts, body).await?;
        let original = row.pk_value();
        self.serializer
            .apply(&mut row, &input, partial)
            .map_err(Problem::invalid)?;
        self.write(&call, &mut row, Some(original)).await?;
        Ok(json_response(
            StatusCode::OK,
            &self.render_one(&call, &row).await?,
        ))
    }

    /// `DELETE /items/{id}/`: 409 when protected rows still point at it.
    async fn destroy(&self, call: Call, key: &str) -> Result<Response, ApiError> {
        let row = self.object(&call, key).await?;
        match row.delete(&call.db).await {
            Ok(_) => Ok(StatusCode::NO_CONTENT.into_response()),
            Err(err) if err.kind() == ErrorKind::Protected => Err(Problem::conflict(format!(
                "Cannot delete this {}: {}",
                M::META.verbose_name,
                err.message()
            ))
            .into()),
            Err(err) => Err(err.into()),
        }
    }

    async fn custom(
        &self,
        index: usize,
        parts: &Parts,
        call: Call,
        key: Option<&str>,
        body: Body,
    ) -> Result<Response, ApiError> {
        let action = &self.custom[index];
        let object = match key {
            Some(key) => Some(self.object(&call, key).await?),
            None => None,
        };
        let body = if matches!(action.method, Method::POST | Method::PUT | Method::PATCH) {
            Some(json_body(parts, body).await?)
        } else {
            None
        };
        let json = (action.handler)(ActionRequest {
            db: call.db,
            user: call.user,
            object,
            body,
        })
        .await?;
        Ok(json_response(StatusCode::OK, &json))
    }
}

/// Whether a foreign-key error's constraint text names `column` (SQLite
/// names none: then every relation is a candidate).
fn candidates_match(reported: &str, column: &str) -> bool {
    reported.is_empty() || reported.contains(column)
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// This request's path and query with `name` set to `value` (relative
/// links: right behind any proxy, whatever the host).
fn page_link(parts: &Parts, name: &str, value: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(current) = parts.uri.query() {
        for (key, old) in form_urlencoded::parse(current.as_bytes()) {
            if key != name {
                query.append_pair(&key, &old);
            }
        }
    }
    query.append_pair(name, value);
    format!("{}?{}", parts.uri.path(), query.finish())
}

/// A resource with its type erased, as the API keeps them.
pub(crate) trait ResourceEntry: Send + Sync {
    /// The routes, under `prefix` (e.g. `/api`).
    fn routes(self: Arc<Self>, default_permission: Arc<dyn Permission>) -> Vec<(String, Route)>;
    /// Adds the resource to the OpenAPI document.
    fn document(
        &self,
        prefix: &str,
        default_permission: &dyn Permission,
        doc: &mut crate::openapi::Builder,
    );
}

impl<M: Model> ResourceEntry for Compiled<M> {
    fn routes(self: Arc<Self>, default_permission: Arc<dyn Permission>) -> Vec<(String, Route)> {
        let has = |action| self.actions.contains(&action);
        let mut routes = Vec::new();
        let handle = |resource: Arc<Self>, permission: Arc<dyn Permission>, kind: Kind| {
            move |request: Request| {
                let resource = resource.clone();
                let permission = permission.clone();
                async move { resource.dispatch(request, &permission, kind).await }
            }
        };
        let name = &self.name;
        let mut collection: Option<Route> = None;
        let add = |route: Option<Route>, method: Method, kind: Kind| -> Option<Route> {
            let handler = handle(self.clone(), default_permission.clone(), kind);
            Some(match (route, method) {
                (None, Method::GET) => estate::routing::get(handler),
                (None, Method::POST) => estate::routing::post(handler),
                (None, Method::PUT) => estate::routing::put(handler),
                (None, Method::PATCH) => estate::routing::patch(handler),
                (None, _) => estate::routing::delete(handler),
                (Some(route), Method::GET) => route.get(handler),
                (Some(route), Method::POST) => route.post(handler),
                (Some(route), Method::PUT) => route.put(handler),
                (Some(route), Method::PATCH) => route.patch(handler),
                (Some(route), _) => route.delete(handler),
            })
        };
        if has(Action::List) {
            collection = add(collection, Method::GET, Kind::List);
        }
        if has(Action::Create) {
            collection = add(collection, Method::POST, Kind::Create);
        }
        let mut item: Option<Route> = None;
        if has(Action::Retrieve) {
            item = add(item, Method::GET, Kind::Retrieve);
        }
        if has(Action::Update) {
            item = add(item, Method::PUT, Kind::Update);
        }
        if has(Action::PartialUpdate) {
            item = add(item, Method::PATCH, Kind::PartialUpdate);
        }
        if has(Action::Destroy) {
            item = add(item, Method::DELETE, Kind::Destroy);
        }
        if let Some(route) = collection {
            routes.push((format!("/{name}/"), route.name(format!("{name}-list"))));
        }
        if let Some(route) = item {
            routes.push((
                format!("/{name}/{{pk}}/"),
                route.name(format!("{name}-detail")),
            ));
        }
        for (index, action) in self.custom.iter().enumerate() {
            let path = if action.detail {
                format!("/{name}/{{pk}}/{}/", action.name)
            } else {
                format!("/{name}/{}/", action.name)
            };
            let route = add(None, action.method.clone(), Kind::Custom(index))
                .expect("a route")
                .name(format!("{name}-{}", action.name));
            routes.push((path, route));
        }
        routes
    }

    fn document(
        &self,
        prefix: &str,
        default_permission: &dyn Permission,
        doc: &mut crate::openapi::Builder,
    ) {
        let permission = self.permission.as_deref().unwrap_or(default_permission);
        crate::openapi::document_resource(self, prefix, permission, doc);
    }
}

/// Which handler a route runs.
#[derive(Clone, Copy, Debug)]
enum Kind {
    List,
    Create,
    Retrieve,
    Update,
    PartialUpdate,
    Destroy,
    Custom(usize),
}

impl<M: Model> Compiled<M> {
    async fn dispatch(
        &self,
        request: Request,
        default_permission: &Arc<dyn Permission>,
        kind: Kind,
    ) -> Response {
        let (mut parts, body) = request.into_parts();
        let key = path_key(&parts);
        let result = match self.begin(&mut parts, default_permission).await {
            Err(err) => Err(err),
            Ok(call) => match kind {
                Kind::List => self.list(&parts, call).await,
                Kind::Create => self.create(&parts, call, body).await,
                Kind::Retrieve => self.retrieve(call, &key).await,
                Kind::Update => self.update(&parts, call, &key, body, false).await,
                Kind::PartialUpdate => self.update(&parts, call, &key, body, true).await,
                Kind::Destroy => self.destroy(call, &key).await,
                Kind::Custom(index) => {
                    let key = self.custom[index].detail.then_some(key.as_str());
                    self.custom(index, &parts, call, key, body).await
                }
            },
        };
        result.unwrap_or_else(IntoResponse::into_response)
    }
}

/// The `{pk}` of the matched path, decoded.
fn path_key(parts: &Parts) -> String {
    let Some(matched) = parts.extensions.get::<axum::extract::MatchedPath>() else {
        return String::new();
    };
    let pattern: Vec<&str> = matched.as_str().split('/').collect();
    let actual: Vec<&str> = parts.uri.path().split('/').collect();
    pattern
        .iter()
        .zip(&actual)
        .find(|(p, _)| **p == "{pk}")
        .map(|(_, segment)| percent_decode(segment))
        .unwrap_or_default()
}

fn percent_decode(segment: &str) -> String {
    form_urlencoded::parse(format!("k={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}
