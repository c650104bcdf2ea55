//! The standard actions: what each request of a resource does.

use axum::body::Body;
use axum::extract::FromRequestParts as _;
use axum::response::{IntoResponse, Response};
use estate::AppContext;
use estate::db::{Database, DbError, ErrorKind};
use estate::orm::model::serialization::{value_from_json, value_to_json};
use estate::orm::{Condition, ManyToManyMeta, Model, OrderBy, QuerySet, Value};
use http::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use http::request::Parts;
use http::{HeaderValue, Method, StatusCode};
use serde_json::{Map, Value as Json};

use crate::auth::{ApiUser, authenticate};
use crate::permissions::PermissionRequest;
use crate::problem::{ApiError, FieldErrors, NON_FIELD_ERRORS, Problem};
use crate::query::{CursorPosition, ListQuery, PageRequest};
use crate::throttle::{Throttle, ThrottleStore};

use super::{ActionRequest, Compiled, Defaults};

/// What every request of a resource shares.
pub(super) struct Call {
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

/// A page of a list: DRF's shape.
#[derive(serde::Serialize)]
struct Page<R> {
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
    next: Option<String>,
    previous: Option<String>,
    results: R,
}

/// A JSON response, written straight to bytes.
fn json_response(status: StatusCode, json: &impl serde::Serialize) -> Response {
    let body = match serde_json::to_vec(json) {
        Ok(body) => body,
        Err(err) => {
            return estate::Error::msg(format!("the response did not serialize: {err}"))
                .into_response();
        }
    };
    let mut response = Response::new(Body::from(body));
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
    /// The throttles that apply: the resource's, else the API's.
    pub(crate) fn throttles<'a>(&'a self, defaults: &'a Defaults) -> &'a [Throttle] {
        self.throttles.as_deref().unwrap_or(&defaults.throttles)
    }

    pub(super) async fn begin(
        &self,
        parts: &mut Parts,
        defaults: &Defaults,
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
        let permission = self.permission.as_ref().unwrap_or(&defaults.permission);
        let app_label = self.app_label(&context);
        let model = &self.model_lowercase;
        let request = PermissionRequest {
            method: &parts.method,
            user: &user,
            app_label: &app_label,
            model,
        };
        if !permission.has_permission(&request).await? {
            return Err(if user.is_authenticated() {
                Problem::forbidden("You do not have permission to perform this action.")
            } else {
                Problem::unauthorized("Authentication credentials were not provided.", false)
            }
            .into());
        }
        let throttles = self.throttles(defaults);
        if !throttles.is_empty() {
            let store = context.get::<ThrottleStore>().ok_or_else(|| {
                estate::Error::msg(
                    "API throttling has no store: install the API with .app(api.app())",
                )
            })?;
            crate::throttle::check(throttles, store, parts, &user).await?;
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

    /// A response with one row.
    async fn row_response(
        &self,
        call: &Call,
        status: StatusCode,
        row: &M,
    ) -> Result<Response, ApiError> {
        let rendered = self
            .serializer
            .render_many(&call.db, std::slice::from_ref(row))
            .await?;
        Ok(json_response(status, &rendered.row(0)))
    }

    /// `GET /items/`.
    pub(super) async fn list(&self, parts: &Parts, call: Call) -> Result<Response, ApiError> {
        let query = ListQuery::<M>::parse(parts.uri.query(), &self.query)?;
        let mut rows = self.rows(&call.user);
        for condition in query.conditions {
            rows = rows.filter(condition);
        }
        let pk = M::META.pk().name;
        match query.page {
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
                let link = |page: u64| page_link(parts, "page", &page.to_string());
                let page = Page {
                    count: Some(count),
                    next: (page < last).then(|| link(page + 1)),
                    previous: (page > 1).then(|| link(page - 1)),
                    results: self.serializer.render_many(&call.db, &found).await?,
                };
                Ok(json_response(StatusCode::OK, &page))
            }
            PageRequest::Cursor { after, size } => {
                self.cursor_page(parts, &call, rows, after, size).await
            }
        }
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
    ) -> Result<Response, ApiError> {
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
        let link = |position: CursorPosition| page_link(parts, "cursor", &position.encode());
        // Forward: more rows mean a next page; a cursor means a previous one.
        // Backward: the other way round.
        let (has_next, has_previous) = if reverse {
            (true, more)
        } else {
            (more, after.is_some())
        };
        let next = match (has_next, found.last()) {
            (true, Some(last)) => Some(link(position(last, false))),
            _ => None,
        };
        let previous = match (has_previous, found.first()) {
            (true, Some(first)) => Some(link(position(first, true))),
            _ => None,
        };
        let page = Page {
            count: None,
            next,
            previous,
            results: self.serializer.render_many(&call.db, &found).await?,
        };
        Ok(json_response(StatusCode::OK, &page))
    }

    /// `GET /items/{id}/`.
    pub(super) async fn retrieve(&self, call: Call, key: &str) -> Result<Response, ApiError> {
        let row = self.object(&call, key).await?;
        self.row_response(&call, StatusCode::OK, &row).await
    }

    /// Runs the validators and writes the row; unique and foreign-key
    /// violations come back as 400 field errors.
    async fn write(
        &self,
        call: &Call,
        row: &mut M,
        original_key: Option<Value>,
        links: Vec<(&'static ManyToManyMeta, Vec<Value>)>,
    ) -> Result<(), ApiError> {
        self.serializer.validate(row).map_err(Problem::invalid)?;
        for validator in &self.validators {
            validator(row).map_err(Problem::invalid)?;
        }
        // The row and its links are written together, or not at all.
        let in_links: std::sync::Mutex<Option<&'static str>> = std::sync::Mutex::new(None);
        let result = if links.is_empty() {
            match original_key {
                None => row.insert(&call.db).await.map(|()| true),
                Some(key) => row.update_row(&call.db, key).await,
            }
        } else {
            let in_links = &in_links;
            estate::orm::atomic(&call.db, async move |tx| {
                let written = match original_key {
                    None => row.insert(tx).await.map(|()| true)?,
                    Some(key) => row.update_row(tx, key).await?,
                };
                if written {
                    for (many, keys) in links {
                        *in_links
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(many.name);
                        estate::orm::set_links(tx, many, row.pk_value(), keys).await?;
                    }
                }
                Ok(written)
            })
            .await
        };
        let failed_link = *in_links
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match result {
            Err(err) if err.kind() == ErrorKind::ForeignKeyViolation && failed_link.is_some() => {
                Err(Problem::invalid_field(
                    failed_link.unwrap_or(NON_FIELD_ERRORS),
                    "Invalid pk - object does not exist.",
                )
                .into())
            }
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
    pub(super) async fn create(
        &self,
        parts: &Parts,
        call: Call,
        body: Body,
    ) -> Result<Response, ApiError> {
        let input = json_body(parts, body).await?;
        let (row, links) = both(
            self.serializer.parse_new(&input),
            self.serializer.parse_links(&input),
        )?;
        let mut row = row;
        if let Some(hook) = &self.on_create {
            hook(&mut row, &call.user);
        }
        self.write(&call, &mut row, None, links).await?;
        let mut response = self.row_response(&call, StatusCode::CREATED, &row).await?;
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
    pub(super) async fn update(
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
        let ((), links) = both(
            self.serializer.apply(&mut row, &input, partial),
            self.serializer.parse_links(&input),
        )?;
        self.write(&call, &mut row, Some(original), links).await?;
        self.row_response(&call, StatusCode::OK, &row).await
    }

    /// `DELETE /items/{id}/`: 409 when protected rows still point at it.
    pub(super) async fn destroy(&self, call: Call, key: &str) -> Result<Response, ApiError> {
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

    pub(super) async fn custom(
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
        // A body is read when one is sent: an action may need none.
        let sent = parts.headers.contains_key(CONTENT_TYPE)
            || parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .is_some_and(|length| length != "0")
            || parts.headers.contains_key(http::header::TRANSFER_ENCODING);
        let body = if sent && matches!(action.method, Method::POST | Method::PUT | Method::PATCH) {
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

/// Both results, or the field errors of both.
fn both<A, B>(a: Result<A, FieldErrors>, b: Result<B, FieldErrors>) -> Result<(A, B), Problem> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(mut errors), Err(more)) => {
            errors.extend(more);
            Err(Problem::invalid(errors))
        }
        (Err(errors), _) | (_, Err(errors)) => Err(Problem::invalid(errors)),
    }
}
