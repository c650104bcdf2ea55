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

use estate::db::Database;
use estate::orm::{Model, QuerySet};
use futures_util::future::BoxFuture;
use http::Method;
use serde_json::{Map, Value as Json};

use crate::auth::ApiUser;
use crate::permissions::Permission;
use crate::problem::{ApiError, FieldErrors};
use crate::query::{Pagination, QueryOptions};
use crate::serializer::{ComputedField, Serializer};
use crate::throttle::Throttle;

mod compile;
mod handlers;
mod routes;

pub(crate) use routes::ResourceEntry;

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
    throttles: Option<Vec<Throttle>>,
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
            throttles: None,
        }
    }

    /// Limits this resource's callers; its throttles replace the API's
    /// (call again to add more). See [`throttle`](crate::throttle).
    #[must_use]
    pub fn throttle(mut self, throttle: Throttle) -> Self {
        self.throttles.get_or_insert_with(Vec::new).push(throttle);
        self
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
    throttles: Option<Vec<Throttle>>,
    app_label: OnceLock<String>,
    /// The model's name in permission codenames (`question`).
    model_lowercase: String,
}

/// What resources take from the API unless they set their own.
#[derive(Clone)]
pub(crate) struct Defaults {
    pub(crate) permission: Arc<dyn Permission>,
    pub(crate) throttles: Arc<Vec<Throttle>>,
}
