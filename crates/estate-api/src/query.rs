//! A list request's query string: filters (`?question=3`,
//! `?pub_date__gte=2024-01-01`), search (`?search=`), ordering
//! (`?ordering=-pub_date`) and the page (`?page=2&page_size=50`, or
//! `?cursor=...`). Only what the resource declares is accepted; anything
//! else is a 400 that lists what is, never a 500 and never SQL.

use base64::Engine as _;
use estate::orm::model::serialization::value_from_json;
use estate::orm::{Condition, FieldMeta, FieldType, Model, ModelMeta, OrderBy, Value};
use serde_json::Value as Json;

use crate::problem::Problem;

/// Longest accepted search text, in characters.
const MAX_SEARCH: usize = 200;
/// Most words a search matches (each adds a condition).
const MAX_SEARCH_TERMS: usize = 10;
/// Most values in one `__in` filter.
const MAX_IN_VALUES: usize = 500;

/// The lookups a filter on `field` offers (after `field__`; `exact` is
/// also the bare field name).
pub(crate) fn lookups_for(field: &FieldMeta) -> Vec<&'static str> {
    let mut lookups = match field.field_type {
        _ if field.relation.is_some() => vec!["exact", "in"],
        FieldType::String if field.choices.is_some() => vec!["exact", "in"],
        FieldType::String => vec![
            "exact",
            "iexact",
            "contains",
            "icontains",
            "startswith",
            "istartswith",
            "endswith",
            "iendswith",
            "in",
        ],
        FieldType::Bool => vec!["exact"],
        FieldType::Uuid => vec!["exact", "in"],
        FieldType::Json | FieldType::Bytes => Vec::new(),
        _ => vec!["exact", "gt", "gte", "lt", "lte", "in"],
    };
    if field.null && !lookups.is_empty() {
        lookups.push("isnull");
    }
    lookups
}

/// How a resource pages its lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pagination {
    /// `?page=N&page_size=M`: `{count, next, previous, results}`.
    PageNumber {
        /// Rows per page unless the client asks for fewer or more.
        page_size: u64,
        /// The most rows a client may ask for.
        max_page_size: u64,
    },
    /// `?cursor=...`: `{next, previous, results}`, in the order of one
    /// field (plus the key). Stable under inserts and fast at any depth
    /// (no `OFFSET`, no `COUNT`).
    Cursor {
        /// Rows per page unless the client asks for fewer or more.
        page_size: u64,
        /// The most rows a client may ask for.
        max_page_size: u64,
    },
}

impl Default for Pagination {
    fn default() -> Self {
        Pagination::PageNumber {
            page_size: 20,
            max_page_size: 100,
        }
    }
}

impl Pagination {
    pub(crate) fn sizes(self) -> (u64, u64) {
        match self {
            Pagination::PageNumber {
                page_size,
                max_page_size,
            }
            | Pagination::Cursor {
                page_size,
                max_page_size,
            } => (page_size, max_page_size),
        }
    }
}

/// The resource's declared query options, resolved at startup.
#[derive(Clone, Debug)]
pub(crate) struct QueryOptions {
    /// Filterable fields, by index.
    pub(crate) filters: Vec<usize>,
    pub(crate) search: Vec<&'static str>,
    /// Fields the client may order by.
    pub(crate) ordering: Vec<&'static str>,
    /// The order when the client gives none (`-pub_date`).
    pub(crate) default_ordering: Vec<String>,
    pub(crate) pagination: Pagination,
    /// Cursor pagination: the field (with `-` for descending) rows are
    /// ordered by.
    pub(crate) cursor_ordering: String,
}

/// Where a page starts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PageRequest {
    Number {
        page: u64,
        size: u64,
    },
    Cursor {
        /// The position after (or, `reverse`, before) which to read.
        after: Option<CursorPosition>,
        size: u64,
    },
}

/// A cursor's position: the ordering field's value and the key of the last
/// row seen; `reverse` when it points backwards (a "previous" link).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CursorPosition {
    pub(crate) value: Json,
    pub(crate) key: Json,
    pub(crate) reverse: bool,
}

impl CursorPosition {
    /// The opaque text of the cursor (URL-safe base64 of a small JSON).
    pub(crate) fn encode(&self) -> String {
        let json = serde_json::json!({"v": self.value, "k": self.key, "r": self.reverse});
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string())
    }

    fn decode(text: &str) -> Option<CursorPosition> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        let json: Json = serde_json::from_slice(&bytes).ok()?;
        Some(CursorPosition {
            value: json.get("v")?.clone(),
            key: json.get("k")?.clone(),
            reverse: json.get("r")?.as_bool()?,
        })
    }
}

/// A parsed list request.
pub(crate) struct ListQuery<M> {
    pub(crate) conditions: Vec<Condition<M>>,
    pub(crate) ordering: Vec<OrderBy<M>>,
    pub(crate) page: PageRequest,
}

/// The parameters a resource accepts, for the 400 message and the docs.
pub(crate) fn parameter_names(meta: &'static ModelMeta, options: &QueryOptions) -> Vec<String> {
    let mut names = Vec::new();
    for &index in &options.filters {
        let field = &meta.fields[index];
        for lookup in lookups_for(field) {
            names.push(if lookup == "exact" {
                field.name.to_owned()
            } else {
                format!("{}__{lookup}", field.name)
            });
        }
    }
    if !options.search.is_empty() {
        names.push("search".to_owned());
    }
    match options.pagination {
        Pagination::PageNumber { .. } => {
            if !options.ordering.is_empty() {
                names.push("ordering".to_owned());
            }
            names.push("page".to_owned());
        }
        Pagination::Cursor { .. } => names.push("cursor".to_owned()),
    }
    names.push("page_size".to_owned());
    names
}

/// A filter value from the query string, read as the field's type.
fn filter_value(field: &FieldMeta, raw: &str, parameter: &str) -> Result<Value, Problem> {
    refuse_nul(raw)?;
    let value = if field.field_type == FieldType::String && field.relation.is_none() {
        Ok(Value::String(raw.to_owned()))
    } else if raw.trim().is_empty() {
        Err("a value is required".to_owned())
    } else {
        value_from_json(field, &Json::String(raw.to_owned()))
    };
    value.map_err(|message| {
        Problem::bad_request(format!("Invalid value for `{parameter}`: {message}."))
    })
}

impl<M: Model> ListQuery<M> {
    /// Reads the query string (`None`: no query string).
    pub(crate) fn parse(query: Option<&str>, options: &QueryOptions) -> Result<Self, Problem> {
        let meta = M::META;
        let mut seen: Vec<String> = Vec::new();
        let mut conditions = Vec::new();
        let mut ordering_param: Option<String> = None;
        let (default_size, max_size) = options.pagination.sizes();
        let mut size = default_size;
        let mut page_number: Option<String> = None;
        let mut cursor: Option<String> = None;
        let unknown = |name: &str| {
            Problem::bad_request(format!(
                "Unknown query parameter `{name}`. This list accepts: {}.",
                parameter_names(meta, options).join(", ")
            ))
        };
        for (name, raw) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if seen.iter().any(|s| *s == name) {
                return Err(Problem::bad_request(format!(
                    "Query parameter `{name}` is given more than once."
                )));
            }
            seen.push(name.to_string());
            match &*name {
                "page" if matches!(options.pagination, Pagination::PageNumber { .. }) => {
                    page_number = Some(raw.into_owned());
                }
                "cursor" if matches!(options.pagination, Pagination::Cursor { .. }) => {
                    cursor = Some(raw.into_owned());
                }
                "page_size" => {
                    size = match raw.trim().parse::<u64>() {
                        Ok(n) if n >= 1 => n.min(max_size),
                        _ => {
                            return Err(Problem::bad_request(format!(
                                "Invalid `page_size` {raw:?}: give a whole number from 1 to {max_size}."
                            )));
                        }
                    };
                }
                "ordering"
                    if !options.ordering.is_empty()
                        && matches!(options.pagination, Pagination::PageNumber { .. }) =>
                {
                    ordering_param = Some(raw.into_owned());
                }
                "search" if !options.search.is_empty() => {
                    if let Some(condition) = search(&raw, &options.search)? {
                        conditions.push(condition);
                    }
                }
                _ => conditions
                    .push(filter(meta, options, &name, &raw).ok_or_else(|| unknown(&name))??),
            }
        }
        let ordering = match (&options.pagination, ordering_param) {
            (Pagination::Cursor { .. }, _) => Vec::new(),
            (_, Some(param)) => ordering_terms(&param, &options.ordering)?,
            (_, None) => options
                .default_ordering
                .iter()
                .map(|spec| {
                    OrderBy::field(spec).map_err(|err| Problem::bad_request(err.to_string()))
                })
                .collect::<Result<_, _>>()?,
        };
        let page = match options.pagination {
            Pagination::PageNumber { .. } => PageRequest::Number {
                page: match page_number {
                    None => 1,
                    Some(text) => match text.trim().parse::<u64>() {
                        Ok(n) if n >= 1 => n,
                        _ => return Err(Problem::not_found("Invalid page.")),
                    },
                },
                size,
            },
            Pagination::Cursor { .. } => PageRequest::Cursor {
                after: match cursor {
                    None => None,
                    Some(text) => Some(
                        CursorPosition::decode(&text)
                            .ok_or_else(|| Problem::not_found("Invalid cursor."))?,
                    ),
                },
                size,
            },
        };
        Ok(ListQuery {
            conditions,
            ordering,
            page,
        })
    }
}

/// Text with a NUL character cannot be compared (PostgreSQL refuses it).
fn refuse_nul(text: &str) -> Result<(), Problem> {
    if text.contains('\0') {
        return Err(Problem::bad_request("Null characters are not allowed."));
    }
    Ok(())
}

/// The condition of a filter parameter; `None` when the name is not a
/// declared filter.
fn filter<M: Model>(
    meta: &'static ModelMeta,
    options: &QueryOptions,
    name: &str,
    raw: &str,
) -> Option<Result<Condition<M>, Problem>> {
    let (field_name, lookup) = name.split_once("__").unwrap_or((name, "exact"));
    let field = options
        .filters
        .iter()
        .map(|&i| &meta.fields[i])
        .find(|f| f.name == field_name)?;
    if !lookups_for(field).contains(&lookup) {
        return None;
    }
    let bad = |err: estate::db::DbError| Problem::bad_request(err.to_string());
    Some((|| match lookup {
        "in" => {
            let values = raw
                .split(',')
                .take(MAX_IN_VALUES + 1)
                .map(|part| filter_value(field, part, name))
                .collect::<Result<Vec<_>, _>>()?;
            if values.len() > MAX_IN_VALUES {
                return Err(Problem::bad_request(format!(
                    "`{name}` takes at most {MAX_IN_VALUES} values."
                )));
            }
            Condition::field_in(field.name, values).map_err(bad)
        }
        "isnull" => {
            let flag = match raw.trim() {
                "true" | "True" | "1" => true,
                "false" | "False" | "0" => false,
                _ => {
                    return Err(Problem::bad_request(format!(
                        "Invalid value for `{name}`: give true or false."
                    )));
                }
            };
            Condition::field_lookup(field.name, "isnull", Value::Bool(flag)).map_err(bad)
        }
        _ => {
            let value = filter_value(field, raw, name)?;
            Condition::field_lookup(field.name, lookup, value).map_err(bad)
        }
    })())
}

/// Every word must appear in one of the search fields (Django admin's and
/// Django REST Framework's rule).
fn search<M: Model>(text: &str, fields: &[&'static str]) -> Result<Option<Condition<M>>, Problem> {
    refuse_nul(text)?;
    if text.chars().count() > MAX_SEARCH {
        return Err(Problem::bad_request(format!(
            "`search` is longer than {MAX_SEARCH} characters."
        )));
    }
    let mut all: Option<Condition<M>> = None;
    for word in text.split_whitespace().take(MAX_SEARCH_TERMS) {
        let mut any: Option<Condition<M>> = None;
        for field in fields {
            let condition = Condition::field_icontains(field, word)
                .map_err(|err| Problem::bad_request(err.to_string()))?;
            any = Some(match any {
                None => condition,
                Some(previous) => previous | condition,
            });
        }
        if let Some(any) = any {
            all = Some(match all {
                None => any,
                Some(previous) => previous & any,
            });
        }
    }
    Ok(all)
}

/// `?ordering=-pub_date,id`, each field one the resource allows.
fn ordering_terms<M: Model>(
    param: &str,
    allowed: &[&'static str],
) -> Result<Vec<OrderBy<M>>, Problem> {
    let mut terms = Vec::new();
    for spec in param.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let name = spec.strip_prefix('-').unwrap_or(spec);
        if !allowed.contains(&name) {
            return Err(Problem::bad_request(format!(
                "Cannot order by `{name}`. Order by: {} (prefix `-` for descending).",
                allowed.join(", ")
            )));
        }
        terms.push(OrderBy::field(spec).map_err(|err| Problem::bad_request(err.to_string()))?);
    }
    Ok(terms)
}
