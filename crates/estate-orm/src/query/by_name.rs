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

    /// The text field `field` contains `text`, ignoring case (Django's
    /// `field__icontains`, what admin search uses). `%` and `_` match
    /// literally.
    ///
    /// # Errors
    /// When `M` has no such field, or it does not hold text.
    pub fn field_icontains(field: &str, text: &str) -> Result<Condition<M>, DbError> {
        let meta = field_named::<M>(field)?;
        if meta.field_type != FieldType::String {
            return Err(DbError::new(
                ErrorKind::Other,
                format!(
                    "{}.{field} is not a text field: search only text fields",
                    M::META.name
                ),
            ));
        }
        Ok(Condition::from_node(Node::Text {
            table: M::META.table,
            column: meta.column,
            op: TextOp::Contains,
            value: text.to_owned(),
            case_insensitive: true,
        }))
    }
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
