//! The OpenAPI 3.1 document, generated at startup from the resources'
//! model metadata (the same description the ORM, forms and admin read):
//! paths, parameters, request and response schemas (JSON Schema 2020-12),
//! the problem-details error schema, and the security schemes.
//!
//! The document is built as JSON: OpenAPI 3.1 schemas *are* JSON Schema,
//! and the result is checked by `openapi-spec-validator` and exercised by
//! schemathesis in CI (`.ci/api-contract`).

pub mod diff;

use estate::orm::{FieldMeta, FieldType, Model, ModelMeta};
use serde_json::{Map, Value as Json, json};

use crate::permissions::Permission;
use crate::query::{Pagination, lookups_for};
use crate::resource::{Action, Compiled};

/// The document being assembled.
pub struct Builder {
    paths: Map<String, Json>,
    schemas: Map<String, Json>,
}

impl Builder {
    pub(crate) fn new() -> Builder {
        Builder {
            paths: Map::new(),
            schemas: Map::new(),
        }
    }

    /// Adds the schemas a typed handler refers to.
    ///
    /// # Panics
    /// When a schema of the same name but another shape is there already
    /// (a Rust type named like a resource's model, say).
    pub(crate) fn schemas(&mut self, schemas: &Map<String, Json>) {
        for (name, schema) in schemas {
            match self.schemas.get(name) {
                Some(existing) if existing != schema => panic!(
                    "the OpenAPI document has two different schemas named `{name}`: rename \
                     the Rust type of a handler (or use #[schemars(rename = \"...\")])"
                ),
                _ => {
                    self.schemas.insert(name.clone(), schema.clone());
                }
            }
        }
    }

    pub(crate) fn operation(&mut self, path: &str, method: &str, operation: Json) {
        let item = self
            .paths
            .entry(path.to_owned())
            .or_insert_with(|| json!({}));
        item[method] = operation;
    }

    /// The finished document.
    pub(crate) fn finish(self, info: &Info) -> Json {
        let mut schemas = self.schemas;
        schemas.insert("Problem".to_owned(), problem_schema());
        json!({
            "openapi": "3.1.0",
            "info": {
                "title": info.title,
                "version": info.version,
                "description": info.description,
            },
            "paths": self.paths,
            "components": {
                "schemas": schemas,
                "responses": error_responses(),
                "securitySchemes": {
                    "bearerAuth": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "An API token: `Authorization: Bearer <key>` (create one with the `createtoken` command)."
                    },
                    "cookieAuth": {
                        "type": "apiKey",
                        "in": "cookie",
                        "name": "sessionid",
                        "description": "The site's login session; POST, PUT, PATCH and DELETE also need the `X-CSRFToken` header."
                    }
                }
            }
        })
    }
}

/// The document's `info`.
#[derive(Clone, Debug)]
pub(crate) struct Info {
    pub(crate) title: String,
    pub(crate) version: String,
    pub(crate) description: String,
}

fn problem_schema() -> Json {
    json!({
        "type": "object",
        "description": "An RFC 9457 problem document.",
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "errors": {
                "type": "object",
                "description": "Field name → messages; `non_field_errors` for the input as a whole.",
                "additionalProperties": {"type": "array", "items": {"type": "string"}}
            }
        },
        "required": ["type", "title", "status", "detail"]
    })
}

/// The error statuses, each a `components/responses` entry.
const ERRORS: [(&str, &str); 11] = [
    (
        "400",
        "Bad request: invalid input or query parameters (field errors under `errors`).",
    ),
    (
        "401",
        "Authentication credentials were not provided or are not valid.",
    ),
    (
        "403",
        "Not allowed (or a session request without a valid CSRF token).",
    ),
    ("404", "No such row, page or cursor."),
    ("406", "The client does not accept application/json."),
    (
        "409",
        "The row cannot be deleted: other rows still need it.",
    ),
    ("413", "The request body is too large."),
    ("415", "The request body is not application/json."),
    ("422", "The JSON body is not an object."),
    ("429", "Too many requests: wait for `Retry-After` seconds."),
    ("500", "Server error."),
];

fn error_responses() -> Json {
    let mut responses = Map::new();
    for (status, description) in ERRORS {
        responses.insert(
            format!("Error{status}"),
            json!({
                "description": description,
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
            }),
        );
    }
    Json::Object(responses)
}

fn error_refs(responses: &mut Map<String, Json>, statuses: &[&str]) {
    for status in statuses {
        responses.insert(
            (*status).to_owned(),
            json!({"$ref": format!("#/components/responses/Error{status}")}),
        );
    }
}

/// The JSON Schema of a field's values (`nullable` adds `null`).
pub(crate) fn field_schema(field: &FieldMeta) -> Json {
    let mut schema = match field.field_type {
        FieldType::AutoInt | FieldType::Int => {
            json!({"type": "integer", "format": "int32", "minimum": i32::MIN, "maximum": i32::MAX})
        }
        FieldType::AutoBigInt | FieldType::BigInt => {
            json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX})
        }
        FieldType::SmallInt => json!({"type": "integer", "minimum": i16::MIN, "maximum": i16::MAX}),
        FieldType::Bool => json!({"type": "boolean"}),
        FieldType::Float => json!({"type": "number", "format": "double"}),
        FieldType::String => match field.choices {
            Some(choices) => {
                json!({"type": "string", "enum": choices.iter().map(|c| c.value.to_string()).collect::<Vec<_>>()})
            }
            None => match field.max_length {
                Some(max) => json!({"type": "string", "maxLength": max}),
                None => json!({"type": "string"}),
            },
        },
        FieldType::Decimal => {
            let places = field.decimal_places.unwrap_or(0);
            let whole = field.max_digits.unwrap_or(30).saturating_sub(places).max(1);
            let pattern = if places == 0 {
                format!("^-?\\d{{1,{whole}}}$")
            } else {
                format!("^-?\\d{{1,{whole}}}(\\.\\d{{1,{places}}})?$")
            };
            json!({"type": "string", "format": "decimal", "pattern": pattern})
        }
        FieldType::Date => json!({"type": "string", "format": "date"}),
        FieldType::Time => {
            json!({"type": "string", "pattern": "^\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,6})?$", "description": "HH:MM:SS[.fff]"})
        }
        FieldType::DateTime => json!({"type": "string", "format": "date-time"}),
        FieldType::Uuid => json!({"type": "string", "format": "uuid"}),
        FieldType::Json => json!({}),
        FieldType::Bytes => json!({"type": "string", "contentEncoding": "base64"}),
        _ => json!({}),
    };
    // A relation holds the related row's key: its key's type.
    if let Some(relation) = &field.relation {
        let target = (relation.target)();
        schema = field_schema(&FieldMeta {
            null: false,
            relation: None,
            choices: None,
            ..*target.pk()
        });
    }
    if !field.help_text.is_empty() {
        schema["description"] = Json::String(field.help_text.to_owned());
    }
    if field.null {
        nullable(&mut schema);
    }
    schema
}

/// Lets a schema also be `null`.
fn nullable(schema: &mut Json) {
    match schema.get("type").cloned() {
        Some(Json::String(kind)) => schema["type"] = json!([kind, "null"]),
        Some(_) => {}
        None => return,
    }
    if let Some(Json::Array(values)) = schema.get_mut("enum") {
        values.push(Json::Null);
    }
}

fn schema_name(meta: &ModelMeta) -> String {
    meta.name.to_owned()
}

/// `recent-questions` → `RecentQuestions`.
fn camel_case(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Adds a resource's schemas and operations.
pub(crate) fn document_resource<M: Model>(
    resource: &Compiled<M>,
    prefix: &str,
    permission: &dyn Permission,
    throttled: bool,
    doc: &mut Builder,
) {
    let meta = M::META;
    let serializer = &resource.serializer;
    // Two resources over one model show different fields: the second
    // gets schemas named after it (`ProductFeed`), not the model's.
    let name = if doc.schemas.contains_key(meta.name) {
        format!("{}{}", meta.name, camel_case(&resource.name))
    } else {
        schema_name(meta)
    };
    let base = format!("{prefix}/{}/", resource.name);
    let item_path = format!("{base}{{pk}}/");
    let tag = resource.name.clone();

    // The row as shown.
    let mut properties = Map::new();
    let mut required = Vec::new();
    for &index in &serializer.output {
        let field = &meta.fields[index];
        let schema = match serializer.nested.iter().find(|n| n.index == index) {
            Some(nested) => {
                let mut inner = Map::new();
                for &i in &nested.fields {
                    let f = &nested.target.fields[i];
                    inner.insert(f.name.to_owned(), field_schema(f));
                }
                let names: Vec<&str> = nested
                    .fields
                    .iter()
                    .map(|&i| nested.target.fields[i].name)
                    .collect();
                let mut object = json!({"type": "object", "properties": inner, "required": names});
                if field.null {
                    object["type"] = json!(["object", "null"]);
                }
                object
            }
            None => field_schema(field),
        };
        let mut schema = schema;
        if !serializer.writable.contains(&index) {
            schema["readOnly"] = Json::Bool(true);
        }
        properties.insert(field.name.to_owned(), schema);
        required.push(field.name);
    }
    let key_list = |many: &crate::serializer::Many| {
        let target = (many.meta.target)();
        json!({"type": "array", "items": field_schema(&FieldMeta { null: false, ..*target.pk() })})
    };
    for many in &serializer.many {
        let mut schema = key_list(many);
        if !many.writable {
            schema["readOnly"] = Json::Bool(true);
        }
        properties.insert(many.meta.name.to_owned(), schema);
        required.push(many.meta.name);
    }
    for computed in &serializer.computed {
        let mut schema = computed.schema.clone();
        if schema.is_object() {
            schema["readOnly"] = Json::Bool(true);
        }
        properties.insert(computed.name.to_owned(), schema);
        required.push(computed.name);
    }
    doc.schemas.insert(
        name.clone(),
        json!({"type": "object", "properties": properties, "required": required}),
    );

    // The row as sent: create and PUT, and PATCH (nothing required).
    let mut input = Map::new();
    let mut input_required = Vec::new();
    for &index in &serializer.writable {
        let field = &meta.fields[index];
        let mut schema = field_schema(field);
        if serializer.write_only.contains(&index) {
            schema["writeOnly"] = Json::Bool(true);
        }
        input.insert(field.name.to_owned(), schema);
        if !field.null && field.default.is_none() && !field.is_auto() {
            input_required.push(field.name);
        }
    }
    for many in serializer.many.iter().filter(|m| m.writable) {
        input.insert(many.meta.name.to_owned(), key_list(many));
    }
    doc.schemas.insert(
        format!("{name}Request"),
        // Unknown members are refused (400), so the schema says so: a
        // field removed later is then a breaking change `openapi --diff` sees.
        json!({"type": "object", "properties": input, "required": input_required, "additionalProperties": false}),
    );
    doc.schemas.insert(
        format!("Patched{name}Request"),
        json!({"type": "object", "properties": input, "additionalProperties": false}),
    );
    let page_schema = match resource.query.pagination {
        Pagination::PageNumber { .. } => json!({
            "type": "object",
            "properties": {
                "count": {"type": "integer", "minimum": 0},
                "next": {"type": ["string", "null"], "format": "uri-reference"},
                "previous": {"type": ["string", "null"], "format": "uri-reference"},
                "results": {"type": "array", "items": {"$ref": format!("#/components/schemas/{name}")}}
            },
            "required": ["count", "next", "previous", "results"]
        }),
        Pagination::Cursor { .. } => json!({
            "type": "object",
            "properties": {
                "next": {"type": ["string", "null"], "format": "uri-reference"},
                "previous": {"type": ["string", "null"], "format": "uri-reference"},
                "results": {"type": "array", "items": {"$ref": format!("#/components/schemas/{name}")}}
            },
            "required": ["next", "previous", "results"]
        }),
    };
    doc.schemas
        .insert(format!("Paginated{name}List"), page_schema);

    let row_ref = json!({"$ref": format!("#/components/schemas/{name}")});
    let json_content = |schema: Json| json!({"application/json": {"schema": schema}});
    let security = |write: bool| {
        let anonymous = if write {
            permission.allows_anonymous_writes()
        } else {
            permission.allows_anonymous_reads()
        };
        let mut schemes = vec![json!({"bearerAuth": []}), json!({"cookieAuth": []})];
        if anonymous {
            schemes.push(json!({}));
        }
        Json::Array(schemes)
    };
    let pk_parameter = json!({
        "name": "pk", "in": "path", "required": true,
        "description": format!("The {}'s key.", meta.verbose_name),
        "schema": field_schema(&FieldMeta { null: false, ..*meta.pk() })
    });
    let operation = |summary: String, id: String, write: bool, mut responses: Map<String, Json>| {
        if throttled {
            error_refs(&mut responses, &["429"]);
        }
        json!({
            "tags": [tag],
            "summary": summary,
            "operationId": id,
            "security": security(write),
            "responses": responses,
        })
    };
    let verbose = meta.verbose_name;
    let plural = meta.verbose_name_plural;
    let id_base = resource.name.replace(['-', '.'], "_");

    if resource.actions.contains(&Action::List) {
        let mut responses = Map::new();
        responses.insert(
            "200".into(),
            json!({"description": format!("A page of {plural}."), "content": json_content(json!({"$ref": format!("#/components/schemas/Paginated{name}List")}))}),
        );
        error_refs(&mut responses, &["400", "401", "403", "404", "406", "500"]);
        let mut op = operation(
            format!("List {plural}"),
            format!("{id_base}_list"),
            false,
            responses,
        );
        op["parameters"] = Json::Array(list_parameters(resource));
        if !resource.description.is_empty() {
            op["description"] = Json::String(resource.description.clone());
        }
        doc.operation(&base, "get", op);
    }
    if resource.actions.contains(&Action::Create) {
        let mut responses = Map::new();
        responses.insert(
            "201".into(),
            json!({"description": format!("The new {verbose}."), "content": json_content(row_ref.clone()),
                   "headers": {"Location": {"description": "The new row's URL.", "schema": {"type": "string"}}}}),
        );
        error_refs(
            &mut responses,
            &["400", "401", "403", "406", "413", "415", "422", "500"],
        );
        let mut op = operation(
            format!("Create a {verbose}"),
            format!("{id_base}_create"),
            true,
            responses,
        );
        op["requestBody"] = json!({"required": true, "content": json_content(json!({"$ref": format!("#/components/schemas/{name}Request")}))});
        doc.operation(&base, "post", op);
    }
    let found = |description: String| {
        let mut responses = Map::new();
        responses.insert(
            "200".into(),
            json!({"description": description, "content": json_content(row_ref.clone())}),
        );
        responses
    };
    if resource.actions.contains(&Action::Retrieve) {
        let mut responses = found(format!("The {verbose}."));
        error_refs(&mut responses, &["401", "403", "404", "406", "500"]);
        let mut op = operation(
            format!("Get a {verbose}"),
            format!("{id_base}_retrieve"),
            false,
            responses,
        );
        op["parameters"] = json!([pk_parameter]);
        doc.operation(&item_path, "get", op);
    }
    for (action, method, schema, summary) in [
        (
            Action::Update,
            "put",
            format!("{name}Request"),
            format!("Replace a {verbose}"),
        ),
        (
            Action::PartialUpdate,
            "patch",
            format!("Patched{name}Request"),
            format!("Update some fields of a {verbose}"),
        ),
    ] {
        if !resource.actions.contains(&action) {
            continue;
        }
        let mut responses = found(format!("The updated {verbose}."));
        error_refs(
            &mut responses,
            &[
                "400", "401", "403", "404", "406", "413", "415", "422", "500",
            ],
        );
        let mut op = operation(
            summary,
            format!(
                "{id_base}_{}",
                if method == "put" {
                    "update"
                } else {
                    "partial_update"
                }
            ),
            true,
            responses,
        );
        op["parameters"] = json!([pk_parameter]);
        op["requestBody"] = json!({"required": true, "content": json_content(json!({"$ref": format!("#/components/schemas/{schema}")}))});
        doc.operation(&item_path, method, op);
    }
    if resource.actions.contains(&Action::Destroy) {
        let mut responses = Map::new();
        responses.insert(
            "204".into(),
            json!({"description": format!("The {verbose} was deleted.")}),
        );
        error_refs(&mut responses, &["401", "403", "404", "406", "409", "500"]);
        let mut op = operation(
            format!("Delete a {verbose}"),
            format!("{id_base}_destroy"),
            true,
            responses,
        );
        op["parameters"] = json!([pk_parameter]);
        doc.operation(&item_path, "delete", op);
    }
    for action in &resource.custom {
        let path = if action.detail {
            format!("{item_path}{}/", action.name)
        } else {
            format!("{base}{}/", action.name)
        };
        let with_body = matches!(
            action.method,
            http::Method::POST | http::Method::PUT | http::Method::PATCH
        );
        let write = !matches!(action.method, http::Method::GET | http::Method::HEAD);
        let mut responses = Map::new();
        responses.insert(
            "200".into(),
            json!({"description": "The action's result.", "content": json_content(json!({}))}),
        );
        let mut errors = vec!["400", "401", "403", "406", "500"];
        if action.detail {
            errors.push("404");
        }
        if with_body {
            errors.extend(["413", "415", "422"]);
        }
        error_refs(&mut responses, &errors);
        let mut op = operation(
            action.summary.clone(),
            format!("{id_base}_{}", action.name.replace('-', "_")),
            write,
            responses,
        );
        if action.detail {
            op["parameters"] = json!([pk_parameter]);
        }
        if with_body {
            op["requestBody"] =
                json!({"required": true, "content": json_content(json!({"type": "object"}))});
        }
        doc.operation(&path, &action.method.as_str().to_ascii_lowercase(), op);
    }
}

/// The query parameters of a list.
fn list_parameters<M: Model>(resource: &Compiled<M>) -> Vec<Json> {
    let meta = M::META;
    let options = &resource.query;
    let mut parameters = Vec::new();
    let query = |name: String, description: String, schema: Json| json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema});
    for &index in &options.filters {
        let field = &meta.fields[index];
        for lookup in lookups_for(field) {
            let (name, schema, description) = match lookup {
                "exact" => (
                    field.name.to_owned(),
                    field_schema(&FieldMeta {
                        null: false,
                        ..*field
                    }),
                    format!("Rows whose {} equals this.", field.verbose_name),
                ),
                "in" => (
                    format!("{}__in", field.name),
                    json!({"type": "string"}),
                    format!(
                        "Rows whose {} is one of these comma-separated values.",
                        field.verbose_name
                    ),
                ),
                "isnull" => (
                    format!("{}__isnull", field.name),
                    json!({"type": "boolean"}),
                    format!(
                        "Rows whose {} is (true) or is not (false) empty.",
                        field.verbose_name
                    ),
                ),
                other => {
                    let schema = if field.field_type == FieldType::String {
                        json!({"type": "string"})
                    } else {
                        field_schema(&FieldMeta {
                            null: false,
                            ..*field
                        })
                    };
                    (
                        format!("{}__{other}", field.name),
                        schema,
                        format!("Rows whose {} {}.", field.verbose_name, lookup_words(other)),
                    )
                }
            };
            parameters.push(query(name, description, schema));
        }
    }
    if !options.search.is_empty() {
        parameters.push(query(
            "search".into(),
            format!(
                "Rows with every word of this in {}.",
                options.search.join(", ")
            ),
            json!({"type": "string", "maxLength": 200}),
        ));
    }
    let (page_size, max_page_size) = options.pagination.sizes();
    match options.pagination {
        Pagination::PageNumber { .. } => {
            if !options.ordering.is_empty() {
                parameters.push(query(
                    "ordering".into(),
                    format!(
                        "Comma-separated fields to order by, `-` first for descending: {}.",
                        options.ordering.join(", ")
                    ),
                    json!({"type": "string"}),
                ));
            }
            parameters.push(query(
                "page".into(),
                "The page number, from 1.".into(),
                json!({"type": "integer", "minimum": 1}),
            ));
        }
        Pagination::Cursor { .. } => parameters.push(query(
            "cursor".into(),
            "Where the page starts: a `next` or `previous` link's cursor.".into(),
            json!({"type": "string"}),
        )),
    }
    parameters.push(query(
        "page_size".into(),
        format!("Rows per page (default {page_size}, at most {max_page_size})."),
        json!({"type": "integer", "minimum": 1}),
    ));
    parameters
}

fn lookup_words(lookup: &str) -> &'static str {
    match lookup {
        "gt" => "is greater than this",
        "gte" => "is at least this",
        "lt" => "is less than this",
        "lte" => "is at most this",
        "iexact" => "equals this, ignoring case",
        "contains" => "contains this",
        "icontains" => "contains this, ignoring case",
        "startswith" => "starts with this",
        "istartswith" => "starts with this, ignoring case",
        "endswith" => "ends with this",
        "iendswith" => "ends with this, ignoring case",
        _ => "matches this",
    }
}
