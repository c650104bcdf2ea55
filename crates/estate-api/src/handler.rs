//! Plain handlers in the API, documented from their types (FastAPI's way):
//! a `Json<T>` argument is the request body, `Query<T>` the query
//! parameters, `Path<T>` the path parameters, and a `Json<T>` answer the
//! response, each described by `T`'s JSON Schema (`#[derive(JsonSchema)]`,
//! from the `schemars` crate, re-exported as `estate_api::schemars`).
//!
//! ```
//! use estate::prelude::*;
//! use estate_api::{Api, ApiError, handler::Operation, schemars::JsonSchema};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct Range { from: i64, to: Option<i64> }
//!
//! #[derive(Serialize, JsonSchema)]
//! struct Total { votes: i64 }
//!
//! async fn total(Query(range): Query<Range>) -> Result<Json<Total>, ApiError> {
//!     Ok(Json(Total { votes: range.to.unwrap_or(range.from) - range.from }))
//! }
//!
//! let api = Api::new().route("/votes/total/", Operation::get(total).summary("Votes in a range"));
//! ```
//!
//! Errors of the extractors come back as problem documents: a body that is
//! not JSON is 415, broken JSON 400, JSON of the wrong shape 422, a query
//! string that does not fit `T` 400, a path that does not 404. Declare the
//! other statuses a handler answers with [`Operation::responses`].

use std::collections::BTreeSet;
use std::future::Future;

use axum::handler::Handler;
use estate::routing::Route;
use http::Method;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value as Json, json};

use crate::auth::ApiUser;
use crate::problem::{ApiError, Problem};

/// What the types of a handler say about its operation.
#[derive(Debug, Default)]
pub struct OperationDoc {
    query: Option<Schema>,
    path: Option<Schema>,
    body: Option<Schema>,
    response: Option<(&'static str, Option<Schema>)>,
    errors: BTreeSet<u16>,
    authenticated: bool,
}

impl OperationDoc {
    /// Documents error statuses (each a problem document).
    pub fn error_statuses(&mut self, statuses: &[u16]) {
        self.errors.extend(statuses);
    }
}

/// A handler argument, as the document describes it. Arguments that
/// describe nothing (the database, the user, headers) implement it with
/// the default, empty, description.
pub trait DescribeInput {
    /// Adds what the argument takes to the operation.
    fn describe(_doc: &mut OperationDoc, _generator: &mut SchemaGenerator) {}
}

/// A handler's return type, as the document describes it.
pub trait DescribeOutput {
    /// Adds what the handler answers to the operation.
    fn describe(doc: &mut OperationDoc, generator: &mut SchemaGenerator);
}

/// A handler whose arguments and answer describe its operation;
/// implemented for async functions of up to eight described arguments.
pub trait DescribeHandler<Args> {
    /// Describes the operation.
    fn describe(doc: &mut OperationDoc, generator: &mut SchemaGenerator);
}

macro_rules! describe_handler {
    ($($arg:ident),*) => {
        impl<F, Fut, $($arg,)*> DescribeHandler<($($arg,)*)> for F
        where
            F: FnOnce($($arg),*) -> Fut,
            Fut: Future,
            Fut::Output: DescribeOutput,
            $($arg: DescribeInput,)*
        {
            fn describe(doc: &mut OperationDoc, generator: &mut SchemaGenerator) {
                $($arg::describe(doc, generator);)*
                <Fut::Output as DescribeOutput>::describe(doc, generator);
            }
        }
    };
}

describe_handler!();
describe_handler!(A1);
describe_handler!(A1, A2);
describe_handler!(A1, A2, A3);
describe_handler!(A1, A2, A3, A4);
describe_handler!(A1, A2, A3, A4, A5);
describe_handler!(A1, A2, A3, A4, A5, A6);
describe_handler!(A1, A2, A3, A4, A5, A6, A7);
describe_handler!(A1, A2, A3, A4, A5, A6, A7, A8);

impl<T: JsonSchema> DescribeInput for axum::Json<T> {
    fn describe(doc: &mut OperationDoc, generator: &mut SchemaGenerator) {
        doc.body = Some(generator.subschema_for::<T>());
        doc.errors.extend([400, 413, 415, 422]);
    }
}

impl<T: JsonSchema> DescribeInput for axum::extract::Query<T> {
    fn describe(doc: &mut OperationDoc, generator: &mut SchemaGenerator) {
        doc.query = Some(generator.subschema_for::<T>());
        doc.errors.insert(400);
    }
}

impl<T: JsonSchema> DescribeInput for estate::routing::Path<T> {
    fn describe(doc: &mut OperationDoc, generator: &mut SchemaGenerator) {
        doc.path = Some(generator.subschema_for::<T>());
        doc.errors.insert(404);
    }
}

impl DescribeInput for ApiUser {
    fn describe(doc: &mut OperationDoc, _: &mut SchemaGenerator) {
        doc.authenticated = true;
        doc.errors.insert(401);
    }
}

macro_rules! describes_nothing {
    ($($ty:ty),* $(,)?) => {
        $(impl DescribeInput for $ty {})*
    };
}

describes_nothing!(
    estate::db::Db,
    estate::AppContext,
    estate::auth::CurrentUser,
    estate::sessions::Session,
    http::Method,
    http::HeaderMap,
    http::Uri,
    axum::extract::Request,
    bytes::Bytes,
    String,
);

impl<T: JsonSchema> DescribeOutput for axum::Json<T> {
    fn describe(doc: &mut OperationDoc, generator: &mut SchemaGenerator) {
        doc.response = Some(("application/json", Some(generator.subschema_for::<T>())));
    }
}

impl<T: DescribeOutput, E: DescribeOutput> DescribeOutput for Result<T, E> {
    fn describe(doc: &mut OperationDoc, generator: &mut SchemaGenerator) {
        E::describe(doc, generator);
        T::describe(doc, generator);
    }
}

impl<T: DescribeOutput> DescribeOutput for (http::StatusCode, T) {
    fn describe(doc: &mut OperationDoc, generator: &mut SchemaGenerator) {
        T::describe(doc, generator);
    }
}

impl DescribeOutput for ApiError {
    fn describe(doc: &mut OperationDoc, _: &mut SchemaGenerator) {
        doc.errors.extend([400, 500]);
    }
}

impl DescribeOutput for Problem {
    fn describe(doc: &mut OperationDoc, _: &mut SchemaGenerator) {
        doc.errors.insert(400);
    }
}

impl DescribeOutput for estate::Error {
    fn describe(doc: &mut OperationDoc, _: &mut SchemaGenerator) {
        doc.errors.insert(500);
    }
}

impl DescribeOutput for String {
    fn describe(doc: &mut OperationDoc, generator: &mut SchemaGenerator) {
        doc.response = Some(("text/plain", Some(generator.subschema_for::<String>())));
    }
}

impl DescribeOutput for &'static str {
    fn describe(doc: &mut OperationDoc, generator: &mut SchemaGenerator) {
        doc.response = Some(("text/plain", Some(generator.subschema_for::<String>())));
    }
}

impl<T> DescribeOutput for axum::response::Html<T> {
    fn describe(doc: &mut OperationDoc, generator: &mut SchemaGenerator) {
        doc.response = Some(("text/html", Some(generator.subschema_for::<String>())));
    }
}

impl DescribeOutput for http::StatusCode {
    fn describe(doc: &mut OperationDoc, _: &mut SchemaGenerator) {
        doc.response = None;
    }
}

impl DescribeOutput for axum::response::Response {
    fn describe(doc: &mut OperationDoc, _: &mut SchemaGenerator) {
        doc.response = Some(("application/json", None));
    }
}

/// Adds the handler to a route (or starts one).
type AddToRoute = Box<dyn FnOnce(Option<Route>) -> Route + Send>;

/// One documented operation: a method, a handler, and what the document
/// says about it. Add it with [`Api::route`](crate::Api::route).
pub struct Operation {
    pub(crate) method: Method,
    pub(crate) add: AddToRoute,
    doc: OperationDoc,
    definitions: Map<String, Json>,
    summary: String,
    description: String,
    tag: Option<String>,
    status: u16,
}

macro_rules! operation_fns {
    ($($name:ident => $method:ident, $estate:ident, $status:expr);* $(;)?) => {
        impl Operation {
            $(
                #[doc = concat!("A `", stringify!($method), "` operation, documented from the handler's types.")]
                pub fn $name<H, T, D>(handler: H) -> Operation
                where
                    H: Handler<T, ()> + DescribeHandler<D>,
                    T: 'static,
                {
                    let add: AddToRoute = Box::new(move |route: Option<Route>| match route {
                        None => estate::routing::$estate(handler),
                        Some(route) => route.$estate(handler),
                    });
                    Operation::new::<H, D>(Method::$method, add, $status)
                }
            )*
        }
    };
}

operation_fns! {
    get => GET, get, 200;
    post => POST, post, 200;
    put => PUT, put, 200;
    patch => PATCH, patch, 200;
    delete => DELETE, delete, 204;
}

impl Operation {
    fn new<H: DescribeHandler<D>, D>(method: Method, add: AddToRoute, status: u16) -> Operation {
        let mut generator = SchemaSettings::draft2020_12()
            .with(|settings| {
                settings.definitions_path = "/components/schemas".into();
                settings.meta_schema = None;
            })
            .into_generator();
        let mut doc = OperationDoc::default();
        H::describe(&mut doc, &mut generator);
        Operation {
            method,
            add,
            doc,
            definitions: generator.take_definitions(true),
            summary: String::new(),
            description: String::new(),
            tag: None,
            status,
        }
    }

    /// A one-line summary for the docs.
    #[must_use]
    pub fn summary(mut self, summary: &str) -> Operation {
        summary.clone_into(&mut self.summary);
        self
    }

    /// A longer description (Markdown).
    #[must_use]
    pub fn description(mut self, description: &str) -> Operation {
        description.clone_into(&mut self.description);
        self
    }

    /// The tag grouping it in the docs (by default the path's first segment).
    #[must_use]
    pub fn tag(mut self, tag: &str) -> Operation {
        self.tag = Some(tag.to_owned());
        self
    }

    /// The success status (200 by default, 204 for DELETE): `.status(201)`.
    #[must_use]
    pub fn status(mut self, status: u16) -> Operation {
        self.status = status;
        self
    }

    /// More error statuses the handler answers (each a problem document),
    /// beyond those its types tell: `.responses(&[404, 409])`.
    #[must_use]
    pub fn responses(mut self, statuses: &[u16]) -> Operation {
        self.doc.error_statuses(statuses);
        self
    }

    /// The operation's entry in the document at `path` (the full path),
    /// and the schemas it refers to.
    pub(crate) fn document(&self, path: &str) -> (Json, &Map<String, Json>) {
        let names = path_names(path);
        let mut parameters = Vec::new();
        if let Some(schema) = &self.doc.path {
            parameters.extend(path_parameters(self.resolve(schema), &names));
        }
        if let Some(schema) = &self.doc.query {
            parameters.extend(object_parameters(self.resolve(schema), "query"));
        }
        let mut responses = Map::new();
        let success = self.status.to_string();
        let description = if self.summary.is_empty() {
            "Success."
        } else {
            &self.summary
        };
        responses.insert(
            success,
            match &self.doc.response {
                Some((media, schema)) if self.status != 204 => {
                    let schema = schema.as_ref().map_or(json!({}), |s| s.as_value().clone());
                    json!({"description": description, "content": {*media: {"schema": schema}}})
                }
                _ => json!({"description": description}),
            },
        );
        for status in &self.doc.errors {
            responses.insert(
                status.to_string(),
                json!({"$ref": format!("#/components/responses/Error{status}")}),
            );
        }
        let tag = self.tag.clone().unwrap_or_else(|| {
            path.trim_matches('/')
                .split('/')
                .nth(1)
                .unwrap_or("api")
                .to_owned()
        });
        let id = format!(
            "{}_{}",
            self.method.as_str().to_ascii_lowercase(),
            path.trim_matches('/')
                .replace(['/', '-', '{', '}', '.'], "_")
                .trim_matches('_')
        );
        let mut operation = json!({
            "tags": [tag],
            "operationId": id,
            "responses": responses,
        });
        if !self.summary.is_empty() {
            operation["summary"] = Json::String(self.summary.clone());
        }
        if !self.description.is_empty() {
            operation["description"] = Json::String(self.description.clone());
        }
        if !parameters.is_empty() {
            operation["parameters"] = Json::Array(parameters);
        }
        if let Some(body) = &self.doc.body {
            operation["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": body.as_value()}}
            });
        }
        if self.doc.authenticated {
            operation["security"] = json!([{"bearerAuth": []}, {"cookieAuth": []}, {}]);
        }
        (operation, &self.definitions)
    }
}

impl Operation {
    /// A schema, or the definition its `$ref` points at (parameters are
    /// listed one by one, so the struct's own schema is needed).
    fn resolve<'a>(&'a self, schema: &'a Schema) -> &'a Json {
        schema
            .as_value()
            .get("$ref")
            .and_then(Json::as_str)
            .and_then(|reference| reference.strip_prefix("#/components/schemas/"))
            .and_then(|name| self.definitions.get(name))
            .unwrap_or(schema.as_value())
    }
}

/// The `{name}` segments of a route path, in order.
fn path_names(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| name.trim_start_matches('*').to_owned())
        .collect()
}

/// Path parameters from `Path<T>`'s schema: a struct's fields by name, a
/// tuple's items or a single value by position.
fn path_parameters(schema: &Json, names: &[String]) -> Vec<Json> {
    let parameter = |name: &str, schema: Json| json!({"name": name, "in": "path", "required": true, "schema": schema});
    if schema.get("properties").is_some() {
        return object_parameters(schema, "path");
    }
    if let Some(items) = schema.get("prefixItems").and_then(Json::as_array) {
        return names
            .iter()
            .zip(items)
            .map(|(name, item)| parameter(name, item.clone()))
            .collect();
    }
    names
        .first()
        .map(|name| vec![parameter(name, schema.clone())])
        .unwrap_or_default()
}

/// Query (or path) parameters from an object schema's properties.
fn object_parameters(schema: &Json, location: &str) -> Vec<Json> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Json::as_array)
        .map(|names| names.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(Json::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, property)| {
            let mut parameter = json!({
                "name": name,
                "in": location,
                "required": location == "path" || required.contains(&name.as_str()),
                "schema": property,
            });
            if let Some(description) = property.get("description") {
                parameter["description"] = description.clone();
            }
            parameter
        })
        .collect()
}
