//! `ModelForm`: a form built from a model's metadata, that creates or
//! updates an instance. The database's unique and foreign-key errors come
//! back as field errors, like Django's `validate_unique`.

use estate_orm::{DbError, ErrorKind, Executor, FieldMeta, ManyToManyMeta, Model, Value};

use super::bound::FormState;
use super::data::FormData;
use super::field::{FormField, label_capitalised};
use super::widget::Widget;
use super::{FormErrors, FormObject};
use crate::error::Error;

/// A form for model `M`: every editable field by default (all but an
/// auto-incrementing key), each with the model's label (`verbose_name`),
/// help text, limits and choices.
///
/// ```no_run
/// # use estate::prelude::*;
/// # use estate::forms::{FormData, ModelForm, Widget};
/// # use estate::db::Db;
/// # use estate::templates::{Template, context};
/// # #[derive(Model)] struct Question { id: Auto<i64>, #[model(max_length = 200)] question_text: String }
/// async fn create(db: Db, data: FormData) -> estate::Result<Response> {
///     let mut form = ModelForm::<Question>::new()
///         .fields(&["question_text"])
///         .widget("question_text", Widget::Textarea)
///         .bind(data);
///     if let Some(question) = form.save(&*db).await? {
///         return Ok(Redirect::to(&format!("/polls/{}/", question.id)).into_response());
///     }
///     Ok(Template::render("polls/new.html", context! { form }).into_response())
/// }
/// ```
pub struct ModelForm<M: Model> {
    /// For each form field, its index in `M::META.fields`.
    indexes: Vec<usize>,
    state: FormState,
    instance: Option<M>,
    /// The edited row's key as loaded: `save` updates that row.
    original_key: Option<Value>,
    /// Many-to-many keys from the last validation, set after the row is saved.
    links: Vec<(&'static ManyToManyMeta, Vec<Value>)>,
    /// Where file fields' uploads are stored.
    media: Option<super::MediaStorage>,
    /// Per file field, the storage folder (default: the model's table).
    upload_to: Vec<(String, String)>,
    /// Uploads from the last validation, stored by `save`: (field index, file).
    pending_files: Vec<(usize, super::UploadedFile)>,
}

impl<M: Model> std::fmt::Debug for ModelForm<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelForm")
            .field("model", &M::META.name)
            .field("fields", &self.state.fields)
            .field("errors", &self.state.errors)
            .finish_non_exhaustive()
    }
}

impl<M: Model> Default for ModelForm<M> {
    fn default() -> Self {
        Self::new()
    }
}

/// The form field for one model field.
fn form_field(meta: &FieldMeta) -> FormField {
    if meta.media_file {
        // An upload; stored by `save` through the form's media storage.
        let mut field = FormField::file(meta.name);
        field.required = !meta.null;
        field.label = label_capitalised(meta.verbose_name);
        meta.help_text.clone_into(&mut field.help_text);
        return field;
    }
    let mut field = match meta.relation {
        // A row of the related model, by key (a select once loaded).
        Some(_) => {
            let mut field = FormField::new(
                meta.name,
                super::FieldKind::ModelChoice {
                    key: meta.field_type.kind(),
                    choices: None,
                },
            );
            if meta.null {
                field.required = false;
                field.null = true;
            }
            field
        }
        None => FormField::for_storage(meta.name, meta.field_type, meta.null, meta.choices),
    };
    field.label = label_capitalised(meta.verbose_name);
    meta.help_text.clone_into(&mut field.help_text);
    if meta.choices.is_none() && meta.relation.is_none() {
        field.max_length = meta.max_length.map(|n| n as usize);
    }
    if let Some(digits) = meta.max_digits {
        field = field.max_digits(digits);
    }
    if let Some(places) = meta.decimal_places {
        field = field.decimal_places(places);
    }
    if let Some(default) = meta.default {
        field.initial = Some(default());
    }
    field
}

/// The form field for a many-to-many field (not required: no links is a
/// valid answer).
fn many_field(meta: &'static ManyToManyMeta) -> FormField {
    let mut field = FormField::new(
        meta.name,
        super::FieldKind::ModelMultipleChoice {
            key: (meta.target)().pk().field_type.kind(),
            choices: None,
        },
    );
    field.required = false;
    field.label = label_capitalised(meta.verbose_name);
    meta.help_text.clone_into(&mut field.help_text);
    field
}

/// Rows of a related model shown in a select; more make it a key input.
const MAX_CHOICES: u64 = 1000;

/// Most rows one field may have chosen (a search widget loads them all).
const MAX_CHOSEN: usize = 20_000;

/// Keys per query when loading chosen rows (below every backend's limit on
/// bound parameters).
const KEYS_PER_QUERY: usize = 500;

impl<M: Model> ModelForm<M> {
    /// A form over every editable field of `M`.
    pub fn new() -> Self {
        let columns = M::META
            .fields
            .iter()
            .enumerate()
            // Not editable, as in Django: auto keys and binary data.
            .filter(|(_, f)| {
                !(f.primary_key && is_auto(f)) && f.field_type != estate_orm::FieldType::Bytes
            })
            .map(|(i, _)| i);
        // Many-to-many fields follow the columns (custom through models
        // have columns of their own: not editable here, as in Django).
        let many = M::META
            .many_to_many
            .iter()
            .enumerate()
            .filter(|(_, m)| m.auto_created)
            .map(|(i, _)| M::META.fields.len() + i);
        let editable: Vec<usize> = columns.chain(many).collect();
        ModelForm {
            state: FormState::new(editable.iter().map(|i| Self::field_for(*i)).collect(), None),
            indexes: editable,
            instance: None,
            original_key: None,
            links: Vec::new(),
            media: None,
            upload_to: Vec::new(),
            pending_files: Vec::new(),
        }
    }

    /// The many-to-many field behind an index past the columns.
    fn many_meta(index: usize) -> Option<&'static ManyToManyMeta> {
        index
            .checked_sub(M::META.fields.len())
            .and_then(|i| M::META.many_to_many.get(i))
    }

    fn field_for(index: usize) -> FormField {
        match Self::many_meta(index) {
            Some(many) => many_field(many),
            None => form_field(&M::META.fields[index]),
        }
    }

    fn field_index(name: &str) -> usize {
        let many = M::META
            .many_to_many
            .iter()
            .position(|m| m.name == name)
            .map(|i| M::META.fields.len() + i);
        M::META
            .fields
            .iter()
            .position(|f| f.name == name)
            .or(many)
            .unwrap_or_else(|| {
                let known: Vec<&str> = M::META
                    .fields
                    .iter()
                    .map(|f| f.name)
                    .chain(M::META.many_to_many.iter().map(|m| m.name))
                    .collect();
                panic!(
                    "ModelForm<{}>: `{name}` is not a field of {}; its fields are: {}",
                    M::META.name,
                    M::META.name,
                    known.join(", ")
                )
            })
    }

    /// Only these fields, in this order (Django's `Meta.fields`).
    ///
    /// # Panics
    /// On a name that is not a field of `M`, listing the fields.
    pub fn fields(mut self, names: &[&str]) -> Self {
        self.indexes = names.iter().map(|n| Self::field_index(n)).collect();
        let mut existing = std::mem::take(&mut self.state.fields);
        self.state.fields = self
            .indexes
            .iter()
            .map(|i| {
                let field = Self::field_for(*i);
                // Keep a field adjusted earlier (label, widget...).
                match existing.iter().position(|f| f.name == field.name) {
                    Some(position) => existing.swap_remove(position),
                    None => field,
                }
            })
            .collect();
        self
    }

    /// Every editable field but these (Django's `Meta.exclude`).
    ///
    /// # Panics
    /// On a name that is not a field of `M`.
    pub fn exclude(mut self, names: &[&str]) -> Self {
        let excluded: Vec<usize> = names.iter().map(|n| Self::field_index(n)).collect();
        let keep: Vec<bool> = self.indexes.iter().map(|i| !excluded.contains(i)).collect();
        let mut keep_iter = keep.iter();
        self.indexes.retain(|_| *keep_iter.next().unwrap_or(&true));
        let mut keep_iter = keep.iter();
        self.state
            .fields
            .retain(|_| *keep_iter.next().unwrap_or(&true));
        self
    }

    /// Changes one field with `change` (a label, a widget, a validator...).
    ///
    /// # Panics
    /// On a name that is not in the form.
    pub fn field(mut self, name: &str, change: impl FnOnce(FormField) -> FormField) -> Self {
        let Some(position) = self.state.fields.iter().position(|f| f.name == name) else {
            panic!(
                "ModelForm<{}>: `{name}` is not in the form; add it with .fields(..)",
                M::META.name
            );
        };
        let field = self.state.fields.remove(position);
        self.state.fields.insert(position, change(field));
        self
    }

    /// Sets a field's label.
    pub fn label(self, name: &str, label: &str) -> Self {
        self.field(name, |f| f.label(label))
    }

    /// Sets a field's help text.
    pub fn help_text(self, name: &str, help_text: &str) -> Self {
        self.field(name, |f| f.help_text(help_text))
    }

    /// Sets a field's widget.
    pub fn widget(self, name: &str, widget: Widget) -> Self {
        self.field(name, |f| f.widget(widget))
    }

    /// Where file fields store their uploads (`MediaStorage`, an
    /// extractor). Needed by `save` when a file was sent.
    pub fn media(mut self, storage: super::MediaStorage) -> Self {
        self.media = Some(storage);
        self
    }

    /// The storage folder for file field `field` (Django's `upload_to`;
    /// default: the model's table name).
    pub fn upload_to(mut self, field: &str, folder: &str) -> Self {
        self.upload_to.push((field.to_owned(), folder.to_owned()));
        self
    }

    /// Edits `instance`: the form shows its values, and `save` updates it.
    pub fn instance(mut self, instance: M) -> Self {
        let values = instance.to_values();
        for (position, index) in self.indexes.iter().enumerate() {
            // Many-to-many links are read by `with_choices`.
            if let Some(value) = values.get(*index) {
                let field = &mut self.state.fields[position];
                // A file it has already need not be sent again.
                if M::META.fields[*index].media_file
                    && matches!(value, Value::String(name) if !name.is_empty())
                {
                    field.required = false;
                }
                let name = field.name.clone();
                self.state.initial.insert(name, value.clone());
            }
        }
        self.original_key = Some(instance.pk_value());
        self.instance = Some(instance);
        self
    }

    /// Loads what the relation fields show: the related rows as the choices
    /// of foreign keys and many-to-many fields (up to 1000; a larger table
    /// keeps a key input), and when editing, the rows linked now. A field
    /// with a [`Widget::Autocomplete`] loads only its chosen rows — the
    /// submitted ones when the form is bound, so call this after `bind`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn with_choices<E: Executor + ?Sized>(mut self, db: &E) -> Result<Self, Error> {
        for position in 0..self.indexes.len() {
            let index = self.indexes[position];
            let many = Self::many_meta(index);
            let target = match many {
                Some(many) => (many.target)(),
                None => match &M::META.fields[index].relation {
                    Some(relation) => (relation.target)(),
                    None => continue,
                },
            };
            if let (Some(many), Some(key)) = (many, &self.original_key) {
                let linked = estate_orm::linked_keys(db, many, key.clone()).await?;
                let texts: Vec<serde_json::Value> = linked
                    .iter()
                    .filter_map(super::bound::value_text)
                    .map(serde_json::Value::String)
                    .collect();
                let name = self.state.fields[position].name.clone();
                self.state
                    .initial
                    .insert(name, Value::Json(serde_json::Value::Array(texts)));
            }
            let loaded = if self.state.fields[position].widget.searches_rows() {
                // Only the chosen rows: they are what the widget shows and
                // what validation accepts (a key of no row is an error).
                let keys = self.chosen_keys(position);
                let mut rows = Vec::with_capacity(keys.len());
                for chunk in keys.chunks(KEYS_PER_QUERY) {
                    rows.extend(estate_orm::choices_for_keys(db, target, chunk).await?);
                }
                rows
            } else {
                let rows = estate_orm::choices(db, target, MAX_CHOICES + 1).await?;
                if rows.len() as u64 > MAX_CHOICES {
                    continue;
                }
                rows
            };
            let loaded: Vec<(String, String)> = loaded
                .into_iter()
                .map(|(key, label)| {
                    let key = super::bound::value_text(&key).unwrap_or_default();
                    let label = label.unwrap_or_else(|| key.clone());
                    (key, label)
                })
                .collect();
            let field = &mut self.state.fields[position];
            let default_widget = Widget::for_kind(&field.kind);
            match &mut field.kind {
                super::FieldKind::ModelChoice { choices, .. }
                | super::FieldKind::ModelMultipleChoice { choices, .. } => {
                    *choices = Some(loaded);
                }
                _ => {}
            }
            // The key input becomes a select, unless a widget was chosen.
            if field.widget == default_widget {
                field.widget = Widget::for_kind(&field.kind);
            }
        }
        Ok(self)
    }

    /// The keys a relation field has chosen: the submitted ones once bound,
    /// else the initial ones (at most `MAX_CHOSEN`; texts that cannot be
    /// keys, and keys past the limit, are left out and fail validation).
    fn chosen_keys(&self, position: usize) -> Vec<Value> {
        let field = &self.state.fields[position];
        let (super::FieldKind::ModelChoice { key, .. }
        | super::FieldKind::ModelMultipleChoice { key, .. }) = &field.kind
        else {
            return Vec::new();
        };
        // A disabled field shows its initial rows, whatever was posted.
        let submitted = self.state.data.as_ref().filter(|_| !field.disabled);
        let texts: Vec<String> = match submitted {
            Some(data) => data
                .get_all(&self.state.html_name(&field.name))
                .into_iter()
                .map(str::to_owned)
                .collect(),
            None => match self
                .state
                .initial
                .get(&field.name)
                .or(field.initial.as_ref())
            {
                Some(Value::Json(serde_json::Value::Array(items))) => items
                    .iter()
                    .filter_map(|item| item.as_str().map(str::to_owned))
                    .collect(),
                Some(value) => super::bound::value_text(value).into_iter().collect(),
                None => Vec::new(),
            },
        };
        let mut keys: Vec<Value> = Vec::new();
        for text in texts.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
            if let Some(value) = super::field::parse_key(*key, text) {
                if !keys.contains(&value) {
                    keys.push(value);
                }
            }
            if keys.len() >= MAX_CHOSEN {
                break;
            }
        }
        keys
    }

    /// Creates a new row starting from `instance`: the form shows its
    /// values, fields outside the form keep them, and `save` inserts (it
    /// never updates an existing row, even one with the same key).
    pub fn start_from(mut self, instance: M) -> Self {
        self = self.instance(instance);
        self.original_key = None;
        self
    }

    /// The names of the form's fields, in order.
    pub fn field_names(&self) -> Vec<&str> {
        self.state.fields.iter().map(|f| f.name.as_str()).collect()
    }

    /// With submitted data.
    pub fn bind(mut self, data: FormData) -> Self {
        self.state.data = Some(data);
        self
    }

    /// Names every field `prefix-name`.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.state.prefix = Some(prefix.to_owned());
        self
    }

    /// Whether data was submitted.
    pub fn is_bound(&self) -> bool {
        self.state.data.is_some()
    }

    /// The errors found so far.
    pub fn errors(&self) -> &FormErrors {
        &self.state.errors
    }

    /// Adds an error, for re-rendering.
    pub fn add_error(&mut self, field: Option<&str>, message: impl Into<String>) {
        self.state.errors.add(field, message);
    }

    /// A field, to adjust at run time.
    pub fn field_mut(&mut self, name: &str) -> Option<&mut FormField> {
        self.state.fields.iter_mut().find(|f| f.name == name)
    }

    /// Validates the data and builds the instance without saving it
    /// (Django's `save(commit=False)`): the instance with the form's values,
    /// or `None` with the errors kept.
    ///
    /// # Errors
    /// Creating an instance when a field outside the form has no default
    /// (a programming error, naming the field).
    pub fn validate(&mut self) -> Result<Option<M>, Error> {
        let Some(mut cleaned) = self.state.full_clean() else {
            return Ok(None);
        };
        let mut form_values: Vec<(usize, Value)> = Vec::new();
        self.links.clear();
        self.pending_files.clear();
        for (position, index) in self.indexes.iter().enumerate() {
            let name = &self.state.fields[position].name;
            if Self::many_meta(*index).is_none() && M::META.fields[*index].media_file {
                // A new upload replaces the file; none keeps the current one.
                if let Some(super::FormInput::File(Some(file))) = cleaned.take_input(name) {
                    self.pending_files.push((*index, file));
                    form_values.push((*index, Value::String(String::new())));
                }
                continue;
            }
            if let Some(many) = Self::many_meta(*index) {
                // Without loaded choices the page could not show the links,
                // so a field missing from the data means "unchanged", never
                // "remove them all".
                let unloaded = matches!(
                    self.state.fields[position].kind,
                    super::FieldKind::ModelMultipleChoice { choices: None, .. }
                );
                let sent = self
                    .state
                    .data
                    .as_ref()
                    .is_some_and(|data| data.contains(&self.state.html_name(name)));
                let disabled = self.state.fields[position].disabled;
                if let Some(keys) = cleaned
                    .take_many(name)
                    .filter(|_| (sent || !unloaded) && !disabled)
                {
                    self.links.push((many, keys));
                }
            } else if let Some(value) = cleaned.take(name) {
                form_values.push((*index, value));
            }
        }
        let built = match &self.instance {
            Some(instance) => {
                let mut values = instance.to_values();
                for (index, value) in form_values {
                    values[index] = value;
                }
                M::from_values(values)
            }
            None => M::from_values(self.new_values(form_values)?),
        };
        let instance = match built.and_then(|instance| instance.validate().map(|()| instance)) {
            Ok(instance) => instance,
            Err(err) => {
                self.record(&err);
                return Ok(None);
            }
        };
        Ok(Some(instance))
    }

    /// One value per model field for a new instance: the form's, else the
    /// field's default, else NULL where allowed.
    fn new_values(&self, mut form_values: Vec<(usize, Value)>) -> Result<Vec<Value>, Error> {
        let mut values = Vec::with_capacity(M::META.fields.len());
        for (index, field) in M::META.fields.iter().enumerate() {
            if let Some(position) = form_values.iter().position(|(i, _)| *i == index) {
                values.push(form_values.swap_remove(position).1);
            } else if let Some(default) = field.default {
                values.push(default());
            } else if field.null || (field.primary_key && is_auto(field)) {
                values.push(Value::Null(field.field_type.kind()));
            } else {
                return Err(Error::msg(format!(
                    "ModelForm<{model}> cannot create a {model}: `{field}` is not in the form \
                     and has no default. Add it to the form, give it #[model(default = ..)], \
                     or build the instance yourself and pass it with .instance(..)",
                    model = M::META.name,
                    field = field.name
                )));
            }
        }
        Ok(values)
    }

    /// Validates and saves (insert, or update of the instance): the saved
    /// instance, or `None` with the errors kept for re-rendering. A unique
    /// value that exists already, or a foreign key to nothing, is an error
    /// on its field.
    ///
    /// # Errors
    /// Database failures other than those, and the programming errors of
    /// [`validate`](Self::validate).
    pub async fn save<E: Executor + ?Sized>(&mut self, db: &E) -> Result<Option<M>, Error> {
        let Some(mut instance) = self.validate()? else {
            return Ok(None);
        };
        // Uploads are stored first; removed again if the row is not written.
        let mut stored: Vec<String> = Vec::new();
        if !self.pending_files.is_empty() {
            let Some(media) = self.media.clone() else {
                return Err(Error::msg(format!(
                    "ModelForm<{}> received a file but has no media storage: add \
                     .media(storage) (the MediaStorage extractor)",
                    M::META.name
                )));
            };
            for (index, file) in std::mem::take(&mut self.pending_files) {
                let field = M::META.fields[index].name;
                let folder = self
                    .upload_to
                    .iter()
                    .find(|(f, _)| f == field)
                    .map_or(M::META.table, |(_, folder)| folder.as_str());
                let name = media.save(folder, &file).await?;
                instance.set_value(index, Value::String(name.clone()))?;
                stored.push(name);
            }
        }
        let result = self.write(db, instance).await;
        if !matches!(result, Ok(Some(_))) {
            if let Some(media) = &self.media {
                for name in &stored {
                    let _ = media.delete(name).await;
                }
            }
        }
        result
    }

    /// Writes a validated instance (and its links); database errors a user
    /// can fix become form errors.
    async fn write<E: Executor + ?Sized>(
        &mut self,
        db: &E,
        mut instance: M,
    ) -> Result<Option<M>, Error> {
        // A new row is always inserted (a key that exists is a unique
        // error, never an overwrite); an edited row is updated by the key
        // it was loaded with. With many-to-many fields, the row and its
        // links are written together.
        let original_key = self.original_key.clone();
        let links = std::mem::take(&mut self.links);
        let link_fields: Vec<&'static str> = links.iter().map(|(m, _)| m.name).collect();
        // Set once the row is written: a failure after it is about links.
        let in_links = std::sync::atomic::AtomicBool::new(false);
        let written = if links.is_empty() {
            match original_key {
                None => instance.insert(db).await.map(|()| true),
                Some(key) => instance.update_row(db, key).await,
            }
        } else {
            let instance = &mut instance;
            let in_links = &in_links;
            estate_orm::atomic(db, async move |tx| {
                let written = match original_key {
                    None => instance.insert(tx).await.map(|()| true)?,
                    Some(key) => instance.update_row(tx, key).await?,
                };
                if written {
                    for (many, keys) in links {
                        in_links.store(true, std::sync::atomic::Ordering::Relaxed);
                        estate_orm::set_links(tx, many, instance.pk_value(), keys).await?;
                    }
                }
                Ok(written)
            })
            .await
        };
        match written {
            Ok(true) => Ok(Some(instance)),
            Ok(false) => {
                self.state.errors.add(
                    None,
                    format!("This {} was deleted in the meantime.", M::META.verbose_name),
                );
                Ok(None)
            }
            Err(err)
                if err.kind() == ErrorKind::ForeignKeyViolation
                    && in_links.load(std::sync::atomic::Ordering::Relaxed) =>
            {
                // A chosen row went away meanwhile (or was never checked).
                let field = (link_fields.len() == 1).then(|| link_fields[0]);
                self.state.errors.add(
                    field,
                    "Select a valid choice. One of the chosen rows is not available any more.",
                );
                Ok(None)
            }
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::UniqueViolation | ErrorKind::ForeignKeyViolation
                ) =>
            {
                self.record(&err);
                Ok(None)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Turns a database or model error into form errors.
    fn record(&mut self, err: &DbError) {
        let in_form = |name: &str| self.state.fields.iter().any(|f| f.name == name);
        let label = |name: &str| {
            M::META
                .field(name)
                .map_or_else(|| name.to_owned(), |f| label_capitalised(f.verbose_name))
        };
        let model = label_capitalised(M::META.verbose_name);
        match err.kind() {
            ErrorKind::UniqueViolation => {
                let fields = err.unique_fields(M::META).unwrap_or_default();
                if fields.is_empty() {
                    self.state
                        .errors
                        .add(None, format!("{model} with these values already exists."));
                    return;
                }
                let labels: Vec<String> = fields.iter().map(|f| label(f)).collect();
                let message = format!("{model} with this {} already exists.", labels.join(" and "));
                match fields.as_slice() {
                    [one] if in_form(one) => self.state.errors.add(Some(one), message),
                    _ => self.state.errors.add(None, message),
                }
            }
            ErrorKind::ForeignKeyViolation => {
                let candidates: Vec<&FieldMeta> = M::META
                    .fields
                    .iter()
                    .filter(|f| f.relation.is_some() && in_form(f.name))
                    .collect();
                // The constraint names the column where the backend says
                // (PostgreSQL, MySQL); SQLite does not, so with one
                // candidate that is the one.
                let reported = err.constraint().unwrap_or("");
                let field = candidates
                    .iter()
                    .find(|f| !reported.is_empty() && reported.contains(f.column))
                    .or(if candidates.len() == 1 {
                        candidates.first()
                    } else {
                        None
                    })
                    .map(|f| f.name);
                self.state.errors.add(
                    field,
                    "Select a valid choice. That choice is not one of the available choices.",
                );
            }
            _ => {
                let field = err.field().filter(|f| in_form(f));
                self.state.errors.add(field, err.message());
            }
        }
    }
}

fn is_auto(field: &FieldMeta) -> bool {
    matches!(
        field.field_type,
        estate_orm::FieldType::AutoInt | estate_orm::FieldType::AutoBigInt
    )
}

impl<M: Model> serde::Serialize for ModelForm<M> {
    /// In a template context, the form object (`{{ form }}`).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        minijinja::Value::from_object(FormObject(self.state.view())).serialize(serializer)
    }
}

impl<M: Model> From<ModelForm<M>> for minijinja::Value {
    /// The form object templates render (`context! { form }`).
    fn from(form: ModelForm<M>) -> Self {
        minijinja::Value::from_object(FormObject(form.state.view()))
    }
}
