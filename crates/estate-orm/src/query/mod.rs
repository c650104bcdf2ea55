//! QuerySets: lazy, chainable queries that compile to one SQL statement.
//!
//! ```text
//! let latest = Question::objects()
//!     .filter(Question::PUB_DATE.lte(now) & Question::VOTES.gt(0))
//!     .order_by(Question::PUB_DATE.desc())
//!     .limit(5)
//!     .all(&db)
//!     .await?;
//! ```
//!
//! Conditions are typed by model: a `Choice` column cannot filter a
//! `Question` query, and a value of the wrong type does not compile.

mod annotate;
mod bulk;
mod by_name;
mod choices;
mod condition;
mod expr;
mod lookups;
mod ordering;
mod prefetch;
mod queryset;
mod relations;
mod values;

pub use annotate::{Annotated, AnnotationRef};
pub use choices::{choices, choices_for_keys};
pub use condition::{Condition, DatePart};
pub(crate) use condition::{Node, TextOp, like_pattern};
pub use expr::{Assignment, ColExpr, Numeric, Operand};
pub use lookups::{DateColumn, DatePartOf, LookupValue, TextColumn};
pub use ordering::{Nulls, OrderBy};
pub use prefetch::{Prefetch, WithRelated};
pub use queryset::{ForUpdate, Grouped, QuerySet, RowCount};
pub use relations::RelationField;
pub(crate) use relations::{SubSelect, pointing_at};
pub use values::{Columns, Values};
