//! `bulk_update`: write the same columns of many instances with a few
//! statements (`SET col = CASE WHEN pk = .. THEN .. END`), like Django's.

use sea_query::{CaseStatement, Expr, ExprTrait, IntoCondition, Query};

use super::queryset::QuerySet;
use super::values::Columns;
use crate::error::{DbError, ErrorKind};
use crate::executor::{self, Executor};
use crate::model::Model;
use crate::sql::{build, to_sea};
use crate::value::Value;

/// Parameters per statement, well under every backend's limit.
const MAX_PARAMS: usize = 10_000;

impl<M: Model> QuerySet<M> {
    /// Writes `columns` (one column or a tuple) of each saved instance in
    /// `objs` to its row, in one transaction, after validating them all;
    /// returns how many rows were updated. Rows outside this query's
    /// filter are left alone. Other columns, and rows changed by someone
    /// else meanwhile, are not touched.
    ///
    /// # Errors
    /// An unsaved instance, the primary key among `columns`, or a value
    /// that fails validation (naming the field); nothing is written then.
    pub async fn bulk_update<E, C>(&self, db: &E, objs: &[M], columns: C) -> Result<u64, DbError>
    where
        E: Executor + ?Sized,
        C: Columns<M>,
    {
        let meta = M::META;
        let names = columns.columns();
        let mut fields: Vec<usize> = Vec::with_capacity(names.len());
        for column in &names {
            let field = meta
                .fields
                .iter()
                .position(|f| f.column == *column)
                .expect("columns come from this model");
            // A column named twice is written once.
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        if fields.contains(&meta.primary_key) {
            return Err(DbError::new(
                ErrorKind::Other,
                format!(
                    "bulk_update cannot change {}'s primary key; save() a copy instead",
                    meta.name
                ),
            ));
        }
        let mut rows = Vec::with_capacity(objs.len());
        for obj in objs {
            let values = crate::model::persist::validated_values(obj)?;
            if matches!(values[meta.primary_key], Value::Null(_)) {
                return Err(DbError::new(
                    ErrorKind::Other,
                    format!("bulk_update got an unsaved {}: save it first", meta.name),
                ));
            }
            rows.push(values);
        }
        if rows.is_empty() || fields.is_empty() {
            return Ok(0);
        }
        let pk = Expr::col((meta.table, meta.pk().column));
        let per_statement = (MAX_PARAMS / (2 * fields.len() + 1)).max(1);
        let location = self.location;
        crate::query_log::at(location, async move {
            executor::atomic(db, async |tx| {
                let mut updated = 0;
                for batch in rows.chunks(per_statement) {
                    let mut statement = Query::update();
                    statement.table(meta.table);
                    for &field in &fields {
                        let column = meta.fields[field].column;
                        let case = batch.iter().fold(CaseStatement::new(), |case, values| {
                            case.case(
                                pk.clone().eq(to_sea(values[meta.primary_key].clone())),
                                Expr::val(to_sea(values[field].clone())),
                            )
                        });
                        let case = case.finally(Expr::col((meta.table, column)));
                        let case: Expr = case.into();
                        statement.value(column, case);
                    }
                    let keys = batch
                        .iter()
                        .map(|values| to_sea(values[meta.primary_key].clone()));
                    if self.keys_first(tx.backend()) {
                        // MySQL: the rows the filter allows, selected first.
                        let allowed = self
                            .matching_keys(tx, Some(pk.clone().is_in(keys).into_condition()))
                            .await?;
                        statement.and_where(pk.clone().is_in(allowed.into_iter().map(to_sea)));
                    } else {
                        statement.and_where(pk.clone().is_in(keys));
                        if let Some(filter) = &self.filter {
                            statement.cond_where(filter.compile(tx.backend()));
                        }
                    }
                    let (sql, params) = build(&statement, tx.backend());
                    updated += executor::execute(tx.target(), &sql, params).await?;
                }
                Ok(updated)
            })
            .await
        })
        .await
    }
}
