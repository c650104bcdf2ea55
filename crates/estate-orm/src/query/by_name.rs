//! Lookups and orderings on fields named at run time — from a URL's query
//! string, say (the admin's sorting and search, API filters). A name that is
//! not a field of the model is an error naming the model and its fields,
//! never SQL: names are only ever matched against the model's metadata, and
//! values are always bound parameters.

use sea_query::{Expr, ExprTrait};

use super::condition::{Condition, Node, TextOp};
use super::ordering::{OrderBy, OrderTerm};
use crate::error::{DbError, ErrorKind};
use crate::model::{FieldMeta, FieldType, Model};
use crate::sql::to_sea;
use crate::value::Value;

/// The field `name` of `M`, or an error listing the fields it has.
pub(crate) fn field_named<M: Model>(name: &str) -> Result<&'static FieldMeta, DbError> {
    M::META.field(name).ok_or_else(|| {
        let names: Vec<&str> = M::META.fields.iter().map(|f| f.name).collect();
        DbError::new(
            ErrorKind::Other,
            format!(
                "{} has no field `{name}`; its fields are: {}",
                M::META.name,
                names.join(", ")
            ),
        )
    })
}

impl<M: Model> Condition<M> {
    /// `field = value`, the field named at run time. A `NULL` value tests
    /// `IS NULL`.
    ///
    /// # Errors
    /// When `M` has no such field.
    pub fn field_equals(field: &str, value: Value) -> Result<Condition<M>, DbError> {
        let meta = field_named::<M>(field)?;
        let column = Expr::col((M::META.table, meta.column));
        Ok(if matches!(value, Value::Null(_)) {
            Condition::new(column.is_null())
        } else {
            Condition::new(column.eq(to_sea(value)))
        })
    }

    /// `field IN (values)`, the field named at run time (no values: a
    /// condition nothing matches).
    ///
    /// # Errors
    /// When `M` has no such field.
    pub fn field_in(field: &str, values: Vec<Value>) -> Result<Condition<M>, DbError> {
        let meta = field_named::<M>(field)?;
        Ok(Condition::new(
            Expr::col((M::META.table, meta.column)).is_in(values.into_iter().map(to_sea)),
        ))
    }

    /// Rows linked through the many-to-many field `field` (named at run
    /// time) to the row of the other model whose key is `key` (the admin's
    /// "By group" filter).
    ///
    /// # Errors
    /// When `M` has no such many-to-many field.
    pub fn linked_to(field: &str, key: Value) -> Result<Condition<M>, DbError> {
        let many = M::META.many_to_many(field).ok_or_else(|| {
            let names: Vec<&str> = M::META.many_to_many.iter().map(|m| m.name).collect();
            DbError::new(
                ErrorKind::Other,
                format!(
                    "{} has no many-to-many field `{field}`; it has: {}",
                    M::META.name,
                    names.join(", ")
                ),
            )
        })?;
        let through = (many.through)().table;
        Ok(Condition::from_node(Node::InSubquery {
            table: M::META.table,
            column: M::META.pk().column,
            select: Box::new(super::relations::SubSelect {
                table: through,
                column: many.source_column,
                filter: Some(Node::Expr(
                    Expr::col((through, many.target_column)).eq(to_sea(key)),
                )),
                ordering: Vec::new(),
                limit: None,
                offset: None,
                skip_nulls: true,
            }),
        }))
    }

    /// `field >= value`, the field named at run time.
    ///
    /// # Errors
    /// When `M` has no such field.
    pub fn field_at_least(field: &str, value: Value) -> Result<Condition<M>, DbError> {
        let meta = field_named::<M>(field)?;
        Ok(Condition::new(
            Expr::col((M::META.table, meta.column)).gte(to_sea(value)),
        ))
    }

    /// `field < value`, the field named at run time.
    ///
    /// # Errors
    /// When `M` has no such field.
    pub fn field_before(field: &str, value: Value) -> Result<Condition<M>, DbError> {
        let meta = field_named::<M>(field)?;
        Ok(Condition::new(
            Expr::col((M::META.table, meta.column)).lt(to_sea(value)),
        ))
    }

    /// `field <lookup> value`, field and lookup named at run time (Django's
    /// `field__lookup=value`, what API filters take from a query string):
    /// `exact`, `gt`, `gte`, `lt`, `lte`; on text fields also `iexact`,
    /// `contains`, `icontains`, `startswith`, `istartswith`, `endswith`,
    /// `iendswith`; `isnull` takes a `Bool`. For `in`, use
    /// [`field_in`](Self::field_in). `%` and `_` in text match literally.
    ///
    /// # Errors
    /// When `M` has no such field, the lookup is unknown, or it is a text
    /// lookup on a field that does not hold text.
    pub fn field_lookup(field: &str, lookup: &str, value: Value) -> Result<Condition<M>, DbError> {
        let meta = field_named::<M>(field)?;
        let column = Expr::col((M::META.table, meta.column));
        let text = |op: TextOp, case_insensitive: bool| -> Result<Condition<M>, DbError> {
            let Value::String(text) = &value else {
                return Err(DbError::new(
                    ErrorKind::Other,
                    format!(
                        "{}.{field}__{lookup} compares text: it needs a text value",
                        M::META.name
                    ),
                ));
            };
            if meta.field_type != FieldType::String {
                return Err(DbError::new(
                    ErrorKind::Other,
                    format!(
                        "{}.{field} is not a text field: `{lookup}` applies to text only",
                        M::META.name
                    ),
                ));
            }
            Ok(Condition::from_node(Node::Text {
                table: M::META.table,
                column: meta.column,
                op,
                value: text.clone(),
                case_insensitive,
            }))
        };
        match lookup {
            "exact" => Self::field_equals(field, value),
            "gt" => Ok(Condition::new(column.gt(to_sea(value)))),
            "gte" => Ok(Condition::new(column.gte(to_sea(value)))),
            "lt" => Ok(Condition::new(column.lt(to_sea(value)))),
            "lte" => Ok(Condition::new(column.lte(to_sea(value)))),
            "isnull" => match value {
                Value::Bool(true) => Ok(Condition::new(column.is_null())),
                Value::Bool(false) => Ok(Condition::new(column.is_not_null())),
                _ => Err(DbError::new(
                    ErrorKind::Other,
                    format!("{}.{field}__isnull takes true or false", M::META.name),
                )),
            },
            "iexact" => text(TextOp::Exact, true),
            "contains" => text(TextOp::Contains, false),
            "icontains" => text(TextOp::Contains, true),
            "startswith" => text(TextOp::StartsWith, false),
            "istartswith" => text(TextOp::StartsWith, true),
            "endswith" => text(TextOp::EndsWith, false),
            "iendswith" => text(TextOp::EndsWith, true),
            other => Err(DbError::new(
                ErrorKind::Other,
                format!(
                    "unknown lookup `{other}` on {}.{field}; the lookups are: exact, gt, gte, \
                     lt, lte, isnull, iexact, contains, icontains, startswith, istartswith, \
                     endswith, iendswith (and in)",
                    M::META.name
                ),
            )),
        }
    }

    /// The text field `field` contains `text`, ignoring case (Django's
    /// `field__icontains`, what admin search uses). `%` and `_` match
    /// literally. `field` may follow foreign keys and many-to-many fields
    /// with `__`, as in Django: `"question__question_text"` keeps the rows
    /// whose question's text contains it (an `IN` subquery per step, so a
    /// row matching through several related rows is still one row).
    ///
    /// # Errors
    /// When a step is not a field of its model, a step before the last is
    /// not a relation, or the last does not hold text.
    pub fn field_icontains(field: &str, text: &str) -> Result<Condition<M>, DbError> {
        let path: Vec<&str> = field.split("__").collect();
        Ok(Condition::from_node(contains_node(M::META, &path, text)?))
    }
}

/// The condition "the text at `path` from `meta` contains `text`".
fn contains_node(
    meta: &'static crate::model::ModelMeta,
    path: &[&str],
    text: &str,
) -> Result<Node, DbError> {
    let (name, rest) = path.split_first().expect("a path has a first step");
    let not_found = || {
        let mut names: Vec<&str> = meta.fields.iter().map(|f| f.name).collect();
        names.extend(meta.many_to_many.iter().map(|m| m.name));
        DbError::new(
            ErrorKind::Other,
            format!(
                "{} has no field `{name}`; its fields are: {}",
                meta.name,
                names.join(", ")
            ),
        )
    };
    if rest.is_empty() {
        let field = meta.field(name).ok_or_else(not_found)?;
        if field.field_type != FieldType::String || field.relation.is_some() {
            return Err(DbError::new(
                ErrorKind::Other,
                format!(
                    "{}.{name} is not a text field: search only text fields",
                    meta.name
                ),
            ));
        }
        return Ok(Node::Text {
            table: meta.table,
            column: field.column,
            op: TextOp::Contains,
            value: text.to_owned(),
            case_insensitive: true,
        });
    }
    let sub = |table: &'static str, column: &'static str, filter: Node| {
        Box::new(super::relations::SubSelect {
            table,
            column,
            filter: Some(filter),
            ordering: Vec::new(),
            limit: None,
            offset: None,
            skip_nulls: true,
        })
    };
    if let Some(many) = meta.many_to_many(name) {
        let target = (many.target)();
        let through = (many.through)().table;
        let inner = contains_node(target, rest, text)?;
        // Rows linked to a target row that matches.
        let linked = Node::InSubquery {
            table: through,
            column: many.target_column,
            select: sub(target.table, target.pk().column, inner),
        };
        return Ok(Node::InSubquery {
            table: meta.table,
            column: meta.pk().column,
            select: sub(through, many.source_column, linked),
        });
    }
    let field = meta.field(name).ok_or_else(not_found)?;
    let Some(relation) = &field.relation else {
        return Err(DbError::new(
            ErrorKind::Other,
            format!(
                "{}.{name} is not a foreign key or many-to-many field, so `{}` cannot follow it",
                meta.name,
                rest.join("__")
            ),
        ));
    };
    let target = (relation.target)();
    let inner = contains_node(target, rest, text)?;
    Ok(Node::InSubquery {
        table: meta.table,
        column: field.column,
        select: sub(target.table, target.pk().column, inner),
    })
}

impl<M: Model> OrderBy<M> {
    /// An ordering by a field named at run time: `"pub_date"` ascending,
    /// `"-pub_date"` descending (Django's `order_by` strings).
    ///
    /// # Errors
    /// When `M` has no such field.
    pub fn field(spec: &str) -> Result<OrderBy<M>, DbError> {
        let (name, descending) = match spec.strip_prefix('-') {
            Some(name) => (name, true),
            None => (spec, false),
        };
        let meta = field_named::<M>(name)?;
        Ok(OrderBy::new(OrderTerm::Column {
            column: meta.column,
            descending,
            nulls: None,
        }))
    }
}
