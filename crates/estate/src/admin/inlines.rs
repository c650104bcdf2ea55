//! Rows of another model edited on the parent's page (Django's
//! `TabularInline`): the children whose foreign key points at the parent,
//! each a row of a table with a Delete box, plus `extra` empty rows for new
//! children. Saved in the parent's transaction: nothing is written unless
//! the parent and every child row are valid.

use std::marker::PhantomData;

use estate_orm::{Condition, Model, ModelMeta, Transaction, Value};
use futures_util::future::BoxFuture;

use super::entry::ModelPerms;
use super::history::change_message;
use super::model_admin::{capitalised, object_label, parse_key, value_display};
use crate::error::Error;
use crate::forms::{FormData, ModelForm, Widget};
use crate::templates::context;

/// The most rows an inline accepts in one submission.
const MAX_ROWS: usize = 1000;

/// Children of model `C` edited in a table on their parent's page:
/// `Inline::<Choice>::tabular("question")`, `question` being `C`'s foreign
/// key to the parent.
pub struct Inline<C> {
    fk: &'static str,
    stacked: bool,
    extra: usize,
    fields: Option<Vec<&'static str>>,
    _model: PhantomData<fn() -> C>,
}

impl<C: Model> Inline<C> {
    /// A table of the children pointing at the parent through `fk`, with
    /// three empty rows for new ones.
    pub fn tabular(fk: &'static str) -> Self {
        Inline {
            fk,
            stacked: false,
            extra: 3,
            fields: None,
            _model: PhantomData,
        }
    }

    /// The same children, each shown as a block of its fields rather than
    /// a table row (Django's `StackedInline`).
    pub fn stacked(fk: &'static str) -> Self {
        Inline {
            stacked: true,
            ..Inline::tabular(fk)
        }
    }

    /// Empty rows offered for new children (default 3).
    #[must_use]
    pub fn extra(mut self, rows: usize) -> Self {
        self.extra = rows;
        self
    }

    /// Only these fields in each row.
    #[must_use]
    pub fn fields(mut self, fields: &[&'static str]) -> Self {
        self.fields = Some(fields.to_vec());
        self
    }

    fn prefix(&self) -> String {
        C::META.name.to_lowercase()
    }

    /// A row's form: the foreign key hidden (it is always set to the
    /// parent on saving).
    fn form(&self, index: usize) -> ModelForm<C> {
        let mut form = ModelForm::<C>::new();
        if let Some(fields) = &self.fields {
            let mut with_fk = fields.clone();
            if !with_fk.contains(&self.fk) {
                with_fk.push(self.fk);
            }
            form = form.fields(&with_fk);
        }
        form.widget(self.fk, Widget::HiddenInput)
            .prefix(&format!("{}-{index}", self.prefix()))
    }

    async fn children<E: estate_orm::Executor + ?Sized>(
        &self,
        db: &E,
        parent: &Value,
    ) -> Result<Vec<C>, Error> {
        let condition = Condition::<C>::field_equals(self.fk, parent.clone())?;
        Ok(C::objects().filter(condition).all(db).await?)
    }

    fn view(
        &self,
        rows: Vec<(Option<String>, ModelForm<C>, bool)>,
        can_delete: bool,
    ) -> minijinja::Value {
        let prefix = self.prefix();
        let initial = rows.iter().filter(|(key, ..)| key.is_some()).count();
        let total = rows.len();
        let rows: Vec<minijinja::Value> = rows
            .into_iter()
            .enumerate()
            .map(|(index, (key, form, delete))| {
                context! { prefix => format!("{prefix}-{index}"), key, form, delete }
            })
            .collect();
        context! {
            title => capitalised(C::META.verbose_name_plural),
            prefix,
            total,
            initial,
            rows,
            can_delete,
            style => if self.stacked { "stacked" } else { "tabular" },
            noun => capitalised(C::META.verbose_name),
        }
    }
}

/// The value of a row's field in the submission.
fn submitted<'a>(data: &'a FormData, row: &str, field: &str) -> Option<&'a str> {
    data.get(&format!("{row}-{field}"))
}

/// What saving an inline did: the rows to show again when one was invalid,
/// and what changed, for the parent's change-log message.
pub(crate) struct InlineOutcome {
    pub(crate) invalid: Option<minijinja::Value>,
    pub(crate) changes: Vec<String>,
}

/// The submitted fields of one row only (so a thousand rows do not each
/// copy the whole body), with the foreign key set to the parent.
fn row_data(data: &FormData, row: &str, fk: &str, parent: &str) -> FormData {
    let own = format!("{row}-");
    data.iter()
        .filter(|(name, _)| name.starts_with(&own))
        .fold(FormData::new(), |acc, (name, value)| acc.with(name, value))
        .with(&format!("{row}-{fk}"), parent)
}

/// An inline whatever its model: what the parent's pages need.
pub(crate) trait InlineEntry: Send + Sync {
    /// Panics unless the inline's foreign key points at `parent`.
    fn check(&self, parent: &'static ModelMeta);

    /// The child model (its permissions decide what the inline allows).
    fn model(&self) -> &'static ModelMeta;

    /// The inline for a GET: the parent's children (none when adding) and
    /// the empty rows, as far as `perms` (the child model's) allow.
    fn show<'a>(
        &'a self,
        db: &'a estate_orm::Database,
        parent: Option<Value>,
        perms: ModelPerms,
    ) -> BoxFuture<'a, Result<minijinja::Value, Error>>;

    /// Saves the submitted rows for `parent` in `tx`, as far as `perms`
    /// allow (other rows are left as they are).
    fn save<'a>(
        &'a self,
        tx: &'a Transaction,
        parent: Value,
        data: &'a FormData,
        perms: ModelPerms,
    ) -> BoxFuture<'a, Result<InlineOutcome, Error>>;

    /// The submitted rows shown again, unsaved (after the parent's errors).
    fn redisplay<'a>(
        &'a self,
        data: &'a FormData,
        perms: ModelPerms,
    ) -> BoxFuture<'a, Result<minijinja::Value, Error>>;
}

impl<C: Model> Inline<C> {
    fn counts(&self, data: &FormData) -> (usize, usize) {
        let count = |name: &str| {
            data.get(&format!("{}-{name}", self.prefix()))
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0)
                .min(MAX_ROWS)
        };
        (count("TOTAL_FORMS"), count("INITIAL_FORMS"))
    }

    /// Whether a new row was touched (anything differing from what an
    /// empty row shows), as Django's `has_changed`.
    fn filled(&self, index: usize, data: &FormData) -> bool {
        let row = format!("{}-{index}-", self.prefix());
        let mut blank = self.form(index);
        data.iter().any(|(name, value)| {
            let Some(field) = name.strip_prefix(&row) else {
                return false;
            };
            if field == self.fk || field == "DELETE" || field == "id" {
                return false;
            }
            let shown = blank
                .field_mut(field)
                .and_then(|f| f.initial.as_ref())
                .and_then(crate::forms::bound::value_text)
                .unwrap_or_default();
            value.trim() != shown
        })
    }
}

fn read_only<C: Model>(mut form: ModelForm<C>) -> ModelForm<C> {
    let names: Vec<String> = form.field_names().iter().map(|n| (*n).to_owned()).collect();
    for name in names {
        if let Some(field) = form.field_mut(&name) {
            field.disabled = true;
        }
    }
    form
}

impl<C: Model> InlineEntry for Inline<C> {
    fn check(&self, parent: &'static ModelMeta) {
        let field = C::META.field(self.fk).unwrap_or_else(|| {
            panic!(
                "Inline::<{}>::tabular({:?}): {} has no such field",
                C::META.name,
                self.fk,
                C::META.name
            )
        });
        let points_at = field.relation.as_ref().map(|r| (r.target)().table);
        assert!(
            points_at == Some(parent.table),
            "Inline::<{}>::tabular({:?}): that field is not a foreign key to {}",
            C::META.name,
            self.fk,
            parent.name
        );
    }

    fn model(&self) -> &'static ModelMeta {
        C::META
    }

    fn show<'a>(
        &'a self,
        db: &'a estate_orm::Database,
        parent: Option<Value>,
        perms: ModelPerms,
    ) -> BoxFuture<'a, Result<minijinja::Value, Error>> {
        Box::pin(async move {
            if !perms.view {
                return Ok(minijinja::Value::UNDEFINED);
            }
            let mut rows = Vec::new();
            if let Some(parent) = &parent {
                for child in self.children(db, parent).await? {
                    let key = value_display(&child.pk_value());
                    let mut form = self.form(rows.len()).instance(child);
                    if !perms.change {
                        form = read_only(form);
                    }
                    rows.push((Some(key), form, false));
                }
            }
            if perms.add {
                for _ in 0..self.extra {
                    let mut form = self.form(rows.len());
                    if let Some(parent) = &parent {
                        form = form.field(self.fk, |mut f| {
                            f.initial = Some(parent.clone());
                            f
                        });
                    }
                    rows.push((None, form, false));
                }
            }
            Ok(self.view(rows, perms.delete))
        })
    }

    fn save<'a>(
        &'a self,
        tx: &'a Transaction,
        parent: Value,
        data: &'a FormData,
        perms: ModelPerms,
    ) -> BoxFuture<'a, Result<InlineOutcome, Error>> {
        Box::pin(async move {
            let prefix = self.prefix();
            let (total, initial) = self.counts(data);
            let parent_text = value_display(&parent);
            // The parent's own children only: ids from the form are checked
            // against them, so a row of another parent cannot be edited.
            let mut existing = self.children(tx, &parent).await?;
            if total > existing.len() + self.extra {
                return Err(Error::bad_request(format!(
                    "Too many {} rows were submitted.",
                    C::META.verbose_name
                )));
            }
            let noun = C::META.verbose_name;
            let mut rows = Vec::new();
            let mut changes = Vec::new();
            let mut valid = true;
            for index in 0..total {
                let row = format!("{prefix}-{index}");
                let data = row_data(data, &row, self.fk, &parent_text);
                let delete = submitted(&data, &row, "DELETE").is_some();
                if index < initial {
                    let key = submitted(&data, &row, "id").and_then(|id| parse_key(C::META, id));
                    let position = key
                        .as_ref()
                        .and_then(|key| existing.iter().position(|c| &c.pk_value() == key));
                    let Some(position) = position else {
                        continue;
                    };
                    let child = existing.swap_remove(position);
                    let key_text = value_display(&child.pk_value());
                    let label = object_label(C::META, &child);
                    if delete && perms.delete {
                        match child.delete(tx).await {
                            Ok(_) => changes.push(format!("Deleted {noun} “{label}”.")),
                            Err(err) if err.kind() == estate_orm::ErrorKind::Protected => {
                                let mut form = self.form(index).bind(data);
                                form.add_error(
                                    None,
                                    format!("Cannot delete {noun} “{label}”: {err}"),
                                );
                                valid = false;
                                rows.push((Some(key_text), form, true));
                            }
                            Err(err) => return Err(err.into()),
                        }
                        continue;
                    }
                    if !perms.change {
                        // Shown, never changed.
                        rows.push((
                            Some(key_text),
                            read_only(self.form(index).instance(child)),
                            false,
                        ));
                        continue;
                    }
                    let before = child.to_values();
                    let mut form = self.form(index).instance(child).bind(data);
                    match form.save(tx).await? {
                        Some(saved) => {
                            let after = saved.to_values();
                            if before != after {
                                let fields = change_message(C::META, &before, &after);
                                let fields =
                                    fields.trim_start_matches("Changed ").trim_end_matches('.');
                                changes.push(format!(
                                    "Changed {fields} for {noun} “{}”.",
                                    object_label(C::META, &saved)
                                ));
                            }
                        }
                        None => valid = false,
                    }
                    rows.push((Some(key_text), form, false));
                } else {
                    if !perms.add || delete || !self.filled(index, &data) {
                        continue;
                    }
                    let mut form = self.form(index).bind(data);
                    match form.save(tx).await? {
                        Some(saved) => changes
                            .push(format!("Added {noun} “{}”.", object_label(C::META, &saved))),
                        None => valid = false,
                    }
                    rows.push((None, form, false));
                }
            }
            Ok(InlineOutcome {
                invalid: (!valid).then(|| self.view(rows, perms.delete)),
                changes,
            })
        })
    }

    fn redisplay<'a>(
        &'a self,
        data: &'a FormData,
        perms: ModelPerms,
    ) -> BoxFuture<'a, Result<minijinja::Value, Error>> {
        Box::pin(async move {
            if !perms.view {
                return Ok(minijinja::Value::UNDEFINED);
            }
            let prefix = self.prefix();
            let (total, initial) = self.counts(data);
            let mut rows: Vec<(Option<String>, ModelForm<C>, bool)> = (0..total
                .min(initial + self.extra))
                .map(|index| {
                    let row = format!("{prefix}-{index}");
                    let own = row_data(data, &row, self.fk, "");
                    let key = (index < initial)
                        .then(|| submitted(&own, &row, "id").map(str::to_owned))
                        .flatten();
                    let delete = submitted(&own, &row, "DELETE").is_some();
                    (key, self.form(index).bind(own), delete)
                })
                .collect();
            // No rows submitted (a form without the inline): offer the
            // empty ones again.
            if rows.is_empty() && perms.add {
                rows = (0..self.extra)
                    .map(|index| (None, self.form(index), false))
                    .collect();
            }
            Ok(self.view(rows, perms.delete))
        })
    }
}
