//! [`ModelAdmin`]: a model's admin options (Django's `ModelAdmin`), and its
//! pages: the change list, the add and change forms, the delete
//! confirmation.

use std::marker::PhantomData;

use axum::response::{IntoResponse, Redirect, Response};
use estate_orm::{Choices as _, Condition, FieldType, Model, ModelMeta, OrderBy, Value};
use futures_util::future::BoxFuture;
use http::{Method, StatusCode};

use super::entry::{AdminEntry, AdminRequest};
use super::history::{ActionFlag, LogEntry, change_message};
use crate::error::Error;
use crate::forms::ModelForm;
use crate::templates::{Template, context};

/// Rows per change-list page unless `list_per_page` says otherwise
/// (Django's default).
const DEFAULT_PER_PAGE: u64 = 100;
/// Longest search text taken from the query string.
const MAX_SEARCH: usize = 200;

/// The public address of a row, for "View on site".
type ViewOnSite<M> = std::sync::Arc<dyn Fn(&M) -> Option<String> + Send + Sync>;

/// A column of the change list computed from the row.
type Computed<M> = std::sync::Arc<dyn Fn(&M) -> String + Send + Sync>;

/// How the admin shows one model (Django's `ModelAdmin`).
pub struct ModelAdmin<M> {
    list_display: Vec<&'static str>,
    computed: Vec<(&'static str, &'static str, Computed<M>)>,
    actions: Vec<super::actions::Action<M>>,
    list_filter: Vec<&'static str>,
    /// The change page links to a password page (the users admin).
    pub(crate) password_page: bool,
    inlines: Vec<Box<dyn super::inlines::InlineEntry>>,
    readonly_fields: Vec<&'static str>,
    fieldsets: Vec<(&'static str, Vec<&'static str>)>,
    date_hierarchy: Option<&'static str>,
    list_display_links: Option<Vec<&'static str>>,
    list_max_show_all: u64,
    save_as: bool,
    view_on_site: Option<ViewOnSite<M>>,
    search_fields: Vec<&'static str>,
    ordering: Option<&'static str>,
    list_per_page: u64,
    fields: Option<Vec<&'static str>>,
    exclude: Vec<&'static str>,
    widgets: super::widgets::WidgetOptions,
    estimate_count_above: Option<u64>,
    _model: PhantomData<fn() -> M>,
}

impl<M: Model> Default for ModelAdmin<M> {
    fn default() -> Self {
        ModelAdmin {
            list_display: Vec::new(),
            computed: Vec::new(),
            actions: Vec::new(),
            list_filter: Vec::new(),
            password_page: false,
            inlines: Vec::new(),
            readonly_fields: Vec::new(),
            fieldsets: Vec::new(),
            date_hierarchy: None,
            list_display_links: None,
            list_max_show_all: 200,
            save_as: false,
            view_on_site: None,
            search_fields: Vec::new(),
            ordering: None,
            list_per_page: DEFAULT_PER_PAGE,
            fields: None,
            exclude: Vec::new(),
            widgets: super::widgets::WidgetOptions::default(),
            estimate_count_above: None,
            _model: PhantomData,
        }
    }
}

impl<M: Model> ModelAdmin<M> {
    /// The default options: the list shows the row's label, 100 per page,
    /// the form every editable field.
    pub fn new() -> Self {
        Self::default()
    }

    /// The fields shown as columns of the change list; the first links to
    /// the row's page, and each column sorts when its header is clicked.
    #[must_use]
    pub fn list_display(mut self, fields: &[&'static str]) -> Self {
        self.list_display = fields.to_vec();
        self
    }

    /// A column computed from the row, for `list_display` under `name`
    /// with the header `label` (Django's methods in `list_display`). Not
    /// sortable. Its text is escaped like any value.
    #[must_use]
    pub fn computed(
        mut self,
        name: &'static str,
        label: &'static str,
        column: impl Fn(&M) -> String + Send + Sync + 'static,
    ) -> Self {
        self.computed
            .push((name, label, std::sync::Arc::new(column)));
        self
    }

    /// An action for the rows ticked in the change list (Django's admin
    /// actions), next to "Delete selected": `name` goes in the form,
    /// `description` in the menu; only users with `permission` (`"view"`,
    /// `"add"`, `"change"` or `"delete"`) see and may run it; `run` gets the
    /// database and the rows, and returns the notice to show.
    ///
    /// # Panics
    /// On an unknown permission or a name already taken.
    #[must_use]
    pub fn action<F, Fut>(
        mut self,
        name: &'static str,
        description: &'static str,
        permission: &'static str,
        run: F,
    ) -> Self
    where
        F: Fn(estate_orm::Database, Vec<M>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<String, Error>> + Send + 'static,
    {
        assert!(
            ["view", "add", "change", "delete"].contains(&permission),
            "ModelAdmin<{}>::action({name:?}): the permission is one of view, add, change, delete",
            M::META.name
        );
        assert!(
            name != super::actions::DELETE_SELECTED && !self.actions.iter().any(|a| a.name == name),
            "ModelAdmin<{}>::action({name:?}) is declared twice",
            M::META.name
        );
        self.actions.push(super::actions::Action::new(
            name,
            description,
            permission,
            run,
        ));
        self
    }

    /// Fields shown on the change page but not editable (what is
    /// submitted for them is ignored).
    #[must_use]
    pub fn readonly_fields(mut self, fields: &[&'static str]) -> Self {
        self.readonly_fields = fields.to_vec();
        self
    }

    /// Groups the form's fields under headings, in this order (Django's
    /// `fieldsets`; call once per group, an empty title for none). The
    /// form then shows exactly these fields.
    #[must_use]
    pub fn fieldset(mut self, title: &'static str, fields: &[&'static str]) -> Self {
        self.fieldsets.push((title, fields.to_vec()));
        let all: Vec<&'static str> = self.fieldsets.iter().flat_map(|(_, f)| f.clone()).collect();
        self.fields = Some(all);
        self
    }

    /// Links above the change list to narrow it to a year, a month, a day
    /// of this date field (Django's `date_hierarchy`).
    #[must_use]
    pub fn date_hierarchy(mut self, field: &'static str) -> Self {
        self.date_hierarchy = Some(field);
        self
    }

    /// The change-list columns that link to the row (default: the first).
    #[must_use]
    pub fn list_display_links(mut self, fields: &[&'static str]) -> Self {
        self.list_display_links = Some(fields.to_vec());
        self
    }

    /// "Show all" lists every row on one page when there are at most this
    /// many (default 200).
    #[must_use]
    pub fn list_max_show_all(mut self, rows: u64) -> Self {
        self.list_max_show_all = rows;
        self
    }

    /// A "Save as new" button on the change page: the form's values become
    /// a new row, the original stays (Django's `save_as`).
    #[must_use]
    pub fn save_as(mut self, on: bool) -> Self {
        self.save_as = on;
        self
    }

    /// A "View on site" link on the change page, to the address `url`
    /// gives for the row (none: no link).
    #[must_use]
    pub fn view_on_site(
        mut self,
        url: impl Fn(&M) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.view_on_site = Some(std::sync::Arc::new(url));
        self
    }

    /// Children edited on this model's add and change pages (Django's
    /// `inlines`): `.inline(Inline::<Choice>::tabular("question"))`.
    ///
    /// # Panics
    /// Unless the inline's field is a foreign key to this model.
    #[must_use]
    pub fn inline<C: Model>(mut self, inline: super::inlines::Inline<C>) -> Self {
        super::inlines::InlineEntry::check(&inline, M::META);
        self.inlines.push(Box::new(inline));
        self
    }

    /// Filters in the change list's sidebar (Django's `list_filter`):
    /// booleans (Yes/No), choices, foreign keys (each related row), dates
    /// (today, past 7 days, this month, this year).
    #[must_use]
    pub fn list_filter(mut self, fields: &[&'static str]) -> Self {
        self.list_filter = fields.to_vec();
        self
    }

    /// Text fields searched (case-insensitive "contains", any field
    /// matching, every word of the search matching) by the change list's
    /// search box. A field of a related model is named through the
    /// relation, as in Django: `"question__question_text"` (foreign keys and
    /// many-to-many fields, any depth).
    #[must_use]
    pub fn search_fields(mut self, fields: &[&'static str]) -> Self {
        self.search_fields = fields.to_vec();
        self
    }

    /// The change list's order when no column is chosen: `"-pub_date"`
    /// (default: the model's ordering, else newest key first).
    #[must_use]
    pub fn ordering(mut self, field: &'static str) -> Self {
        self.ordering = Some(field);
        self
    }

    /// For a table of more than `rows` rows, the unfiltered change list
    /// takes its total from the database's statistics instead of a
    /// `COUNT(*)` that reads the whole table (PostgreSQL and MySQL; SQLite
    /// keeps none and always counts), and says "about". Searches and
    /// filters still count exactly. Pages past an estimate that fell short
    /// stay reachable while they have rows.
    #[must_use]
    pub fn estimate_count_above(mut self, rows: u64) -> Self {
        self.estimate_count_above = Some(rows);
        self
    }

    /// Rows per change-list page (default 100).
    #[must_use]
    pub fn list_per_page(mut self, rows: u64) -> Self {
        self.list_per_page = rows.max(1);
        self
    }

    /// Only these fields in the add and change forms, in this order.
    #[must_use]
    pub fn fields(mut self, fields: &[&'static str]) -> Self {
        self.fields = Some(fields.to_vec());
        self
    }

    /// Every editable field but these in the forms.
    #[must_use]
    pub fn exclude(mut self, fields: &[&'static str]) -> Self {
        self.exclude = fields.to_vec();
        self
    }

    /// Foreign keys and many-to-many fields chosen through a search box
    /// instead of a select listing every row (Django's
    /// `autocomplete_fields`), for related tables with many rows. The
    /// related model must be registered with `search_fields` (checked when
    /// the site is built); the box shows its rows in its admin's order,
    /// labelled like everywhere in the admin, 20 at a time, to users who
    /// may view that model.
    #[must_use]
    pub fn autocomplete_fields(mut self, fields: &[&'static str]) -> Self {
        self.widgets.autocomplete = fields.to_vec();
        self
    }

    /// Many-to-many fields shown as two lists, "available" (with a filter
    /// box) and "chosen", with buttons to move rows between them (Django's
    /// `filter_horizontal`). Without the script it is a multiple select.
    #[must_use]
    pub fn filter_horizontal(mut self, fields: &[&'static str]) -> Self {
        self.widgets.filter_horizontal = fields.to_vec();
        self
    }

    /// Fills the text field `field` from `from` while they are typed on
    /// the add page, as a slug: lowercase, accents dropped, words joined by
    /// hyphens, cut to the field's `max_length` (Django's
    /// `prepopulated_fields = {"slug": ("title",)}`). A value typed into
    /// `field` itself is left alone; the change page never rewrites it.
    #[must_use]
    pub fn prepopulated_fields(mut self, field: &'static str, from: &[&'static str]) -> Self {
        self.widgets.prepopulated.retain(|(slug, _)| *slug != field);
        self.widgets.prepopulated.push((field, from.to_vec()));
        self
    }

    /// Panics naming the option and the model's fields when an option names
    /// a field the model does not have (called by `register`).
    pub(crate) fn check_options(&self) {
        let known: Vec<&str> = M::META.fields.iter().map(|f| f.name).collect();
        let many: Vec<&str> = M::META.many_to_many.iter().map(|m| m.name).collect();
        let mut named: Vec<(&str, &str)> = Vec::new();
        named.extend(
            self.list_display
                .iter()
                .filter(|f| !self.computed.iter().any(|(name, ..)| name == *f))
                .map(|f| ("list_display", *f)),
        );
        named.extend(
            self.list_filter
                .iter()
                .filter(|f| M::META.many_to_many(f).is_none())
                .map(|f| ("list_filter", *f)),
        );
        named.extend(self.readonly_fields.iter().map(|f| ("readonly_fields", *f)));
        named.extend(self.date_hierarchy.iter().map(|f| ("date_hierarchy", *f)));
        named.extend(
            self.ordering
                .iter()
                .map(|o| ("ordering", o.trim_start_matches('-'))),
        );
        named.extend(self.exclude.iter().map(|f| ("exclude", *f)));
        named.extend(self.fields.iter().flatten().map(|f| ("fields", *f)));
        for (option, name) in named {
            let form_option = matches!(option, "fields" | "exclude" | "readonly_fields");
            assert!(
                known.contains(&name) || (form_option && many.contains(&name)),
                "ModelAdmin<{}>::{option} names `{name}`, which is not a field of {}; its fields \
                 are: {}",
                M::META.name,
                M::META.name,
                known.join(", ")
            );
        }
        if let Some(name) = self.date_hierarchy {
            let field = M::META.field(name).expect("checked above");
            assert!(
                matches!(field.field_type, FieldType::Date | FieldType::DateTime),
                "ModelAdmin<{}>::date_hierarchy names `{name}`, which is not a date",
                M::META.name
            );
        }
        for name in self
            .list_filter
            .iter()
            .filter(|f| M::META.many_to_many(f).is_none())
        {
            let field = M::META.field(name).expect("checked above");
            assert!(
                super::filters::filterable(field),
                "ModelAdmin<{}>::list_filter names `{name}`: filter on booleans, choices, foreign \
                 keys or dates",
                M::META.name
            );
            assert!(
                !super::filters::RESERVED.contains(name),
                "ModelAdmin<{}>::list_filter: a field named `{name}` clashes with the change \
                 list's own parameter",
                M::META.name
            );
        }
        self.widgets.check(M::META);
        for name in &self.search_fields {
            assert!(
                !name.starts_with(['^', '=', '@']),
                "ModelAdmin<{}>::search_fields names `{name}`: Django's `^` (starts with), `=` \
                 (exact) and `@` (full text) prefixes are not supported; name the field alone \
                 for a case-insensitive \"contains\" search",
                M::META.name
            );
            // Paths through relations (`question__question_text`) included.
            if let Err(err) = Condition::<M>::field_icontains(name, "") {
                panic!(
                    "ModelAdmin<{}>::search_fields names `{name}`: {}",
                    M::META.name,
                    err.message()
                );
            }
        }
    }

    fn form(&self) -> ModelForm<M> {
        let mut form = ModelForm::<M>::new();
        for name in &self.readonly_fields {
            if ModelForm::<M>::new().field_names().contains(name) {
                form = form.field(name, |mut field| {
                    field.disabled = true;
                    field
                });
            }
        }
        if let Some(fields) = &self.fields {
            form = form.fields(fields);
        }
        if !self.exclude.is_empty() {
            form = form.exclude(&self.exclude);
        }
        form
    }

    /// The form for a request: with the site's media storage when the
    /// model has file fields.
    ///
    /// # Errors
    /// File fields without `media_root` set (the message says how).
    fn form_for(&self, request: &AdminRequest, adding: bool) -> Result<ModelForm<M>, Error> {
        let form = self.widgets.apply(self.form(), request, adding)?;
        if !M::META.fields.iter().any(|f| f.media_file) {
            return Ok(form);
        }
        let storage = crate::forms::MediaStorage::from_settings(request.context.settings())?;
        Ok(form.media(storage))
    }

    /// The columns of the change list.
    fn columns(&self) -> Vec<&'static str> {
        if self.list_display.is_empty() {
            vec![M::META.pk().name]
        } else {
            self.list_display.clone()
        }
    }

    /// The row with the key written `id` in the URL, if there is one.
    async fn object(&self, request: &AdminRequest, id: &str) -> Result<Option<M>, Error> {
        let Some(key) = parse_key(M::META, id) else {
            return Ok(None);
        };
        let condition = Condition::<M>::field_equals(M::META.pk().name, key)?;
        Ok(M::objects().filter(condition).first(&request.db).await?)
    }

    /// The request user's permissions on each inline's model.
    async fn inline_perms(
        &self,
        request: &AdminRequest,
    ) -> Result<Vec<super::entry::ModelPerms>, Error> {
        let mut perms = Vec::new();
        for inline in &self.inlines {
            let meta = inline.model();
            perms.push(match super::views::app_label_of(&request.context, meta) {
                Some(app) => {
                    super::entry::ModelPerms::of(&request.current, &app, &meta.name.to_lowercase())
                        .await?
                }
                None => super::entry::ModelPerms::default(),
            });
        }
        Ok(perms)
    }

    /// Every inline for a GET: the parent's children and empty rows.
    async fn show_inlines(
        &self,
        request: &AdminRequest,
        parent: Option<Value>,
    ) -> Result<Vec<minijinja::Value>, Error> {
        let perms = self.inline_perms(request).await?;
        let mut views = Vec::new();
        for (inline, perms) in self.inlines.iter().zip(perms) {
            views.push(inline.show(&request.db, parent.clone(), perms).await?);
        }
        Ok(views)
    }

    /// Saves the bound form and every inline in one transaction: the saved
    /// row and what the inlines changed, or the inlines to show again when
    /// something was invalid (nothing is then written).
    async fn save_all(
        &self,
        request: &AdminRequest,
        form: &mut ModelForm<M>,
        data: &crate::forms::FormData,
    ) -> Result<(Option<M>, Vec<minijinja::Value>, Vec<String>), Error> {
        if self.inlines.is_empty() {
            return Ok((form.save(&request.db).await?, Vec::new(), Vec::new()));
        }
        let perms = self.inline_perms(request).await?;
        let mut shown = Vec::new();
        let mut changes = Vec::new();
        let outcome = request
            .db
            .atomic(async |tx| -> Result<Option<M>, SaveFailure> {
                let Some(saved) = form.save(tx).await.map_err(SaveFailure::Error)? else {
                    return Ok(None);
                };
                let mut invalid = false;
                for (inline, perms) in self.inlines.iter().zip(&perms) {
                    let outcome = inline
                        .save(tx, saved.pk_value(), data, *perms)
                        .await
                        .map_err(SaveFailure::Error)?;
                    changes.extend(outcome.changes);
                    match outcome.invalid {
                        Some(view) => {
                            invalid = true;
                            shown.push(view);
                        }
                        None => shown.push(minijinja::Value::UNDEFINED),
                    }
                }
                // Roll back the parent and every row when any row is invalid.
                if invalid {
                    Err(SaveFailure::Invalid)
                } else {
                    Ok(Some(saved))
                }
            })
            .await;
        match outcome {
            Ok(Some(saved)) => Ok((Some(saved), Vec::new(), changes)),
            Ok(None) => {
                let mut views = Vec::new();
                for (inline, perms) in self.inlines.iter().zip(&perms) {
                    views.push(inline.redisplay(data, *perms).await?);
                }
                Ok((None, views, Vec::new()))
            }
            Err(SaveFailure::Invalid) => {
                // Rows that were valid are shown as submitted.
                let mut views = Vec::new();
                for ((inline, view), perms) in self.inlines.iter().zip(shown).zip(&perms) {
                    views.push(if view.is_undefined() {
                        inline.redisplay(data, *perms).await?
                    } else {
                        view
                    });
                }
                Ok((None, views, Vec::new()))
            }
            Err(SaveFailure::Error(err)) => Err(err),
        }
    }

    async fn changelist_page(&self, request: AdminRequest) -> Result<Response, Error> {
        if !request.perms.view {
            return Err(Error::forbidden(
                "You do not have permission to view these rows.",
            ));
        }
        if request.method == Method::POST {
            return super::actions::run(&self.actions, request).await;
        }
        let search = search_text(request.query.get("q"));
        let mut query = apply_search(M::objects(), &self.search_fields, &search)?;
        let (conditions, filters) =
            super::filters::apply::<M>(&request.db, &self.list_filter, &request.query).await?;
        for condition in conditions {
            query = query.filter(condition);
        }
        let mut dates = Vec::new();
        if let Some(name) = self.date_hierarchy {
            let (conditions, links) =
                super::filters::date_hierarchy::<M>(&request.db, name, &request.query).await?;
            for condition in conditions {
                query = query.filter(condition);
            }
            dates = links;
        }
        // Sorting: only by a shown column; anything else is ignored.
        let columns = self.columns();
        let chosen = request.query.get("o").filter(|o| {
            let name = o.strip_prefix('-').unwrap_or(o);
            columns.contains(&name) && M::META.field(name).is_some()
        });
        let ordering = match chosen.map(String::as_str).or(self.ordering) {
            Some(spec) => vec![OrderBy::<M>::field(spec)?],
            None if M::META.ordering.is_empty() => {
                vec![OrderBy::<M>::field(&format!("-{}", M::META.pk().name))?]
            }
            None => Vec::new(),
        };
        // The key last, so pages never overlap or skip rows on ties.
        let mut ordering = ordering;
        ordering.push(OrderBy::<M>::field(M::META.pk().name)?);
        let counted = match self.estimate_count_above {
            // Whole, big tables: the statistics' figure (filters count).
            Some(threshold) => {
                query
                    .clone()
                    .count_estimate(&request.db, i64::try_from(threshold).unwrap_or(i64::MAX))
                    .await?
            }
            None => estate_orm::RowCount {
                rows: query.clone().count(&request.db).await?,
                exact: true,
            },
        };
        let estimated = !counted.exact;
        let total = u64::try_from(counted.rows).unwrap_or(0);
        let show_all =
            request.query.contains_key("all") && total <= self.list_max_show_all && !estimated;
        let per_page = if show_all {
            total.max(1)
        } else {
            self.list_per_page
        };
        let pages = total.div_ceil(per_page).max(1);
        // With an estimate, any page may exist: one that has rows does.
        let page = match request.query.get("p") {
            None => 1,
            Some(text) => match text.parse::<u64>() {
                Ok(page) if page >= 1 && (estimated || page <= pages) => page,
                _ => return Err(Error::not_found(format!("Invalid page ({text})."))),
            },
        };
        let mut rows = query
            .order_by(ordering)
            .offset((page - 1).saturating_mul(per_page))
            // One row more than a page says whether a next page exists
            // when the total is only an estimate.
            .limit(if estimated { per_page + 1 } else { per_page })
            .all(&request.db)
            .await?;
        let more = rows.len() as u64 > per_page;
        rows.truncate(usize::try_from(per_page).unwrap_or(usize::MAX));
        if estimated && page > 1 && rows.is_empty() {
            return Err(Error::not_found(format!("Invalid page ({page}).")));
        }
        let pages = match (estimated, more) {
            (false, _) => pages,
            (true, true) => pages.max(page + 1),
            (true, false) => page,
        };
        // What foreign keys point at, one query per column (no N+1).
        let mut related: Vec<Option<std::collections::HashMap<String, String>>> = Vec::new();
        for name in &columns {
            let relation = M::META
                .fields
                .iter()
                .position(|f| f.name == *name)
                .and_then(|i| M::META.fields[i].relation.as_ref().map(|r| (i, r)));
            related.push(match relation {
                Some((index, relation)) => {
                    // Each related row once: a page often points at few.
                    let mut keys: Vec<Value> = Vec::new();
                    for row in &rows {
                        let key = row.to_values().swap_remove(index);
                        if !matches!(key, Value::Null(_)) && !keys.contains(&key) {
                            keys.push(key);
                        }
                    }
                    let labels =
                        estate_orm::choices_for_keys(&request.db, (relation.target)(), &keys)
                            .await?;
                    Some(
                        labels
                            .into_iter()
                            .map(|(key, label)| {
                                let key = value_display(&key);
                                (key.clone(), label.unwrap_or(key))
                            })
                            .collect(),
                    )
                }
                None => None,
            });
        }
        // The same for every row: which columns link, and the change URL
        // around the key (reversed once, the key encoded as reverse would).
        let links: Vec<bool> = columns
            .iter()
            .enumerate()
            .map(|(i, name)| match &self.list_display_links {
                Some(linked) => linked.contains(name),
                None => i == 0,
            })
            .collect();
        let links = minijinja::Value::from(
            links
                .into_iter()
                .map(minijinja::Value::from)
                .collect::<Vec<_>>(),
        );
        const MARK: &str = "__estate_key__";
        let change_url = request.url("change", Some(MARK))?;
        let (url_start, url_end) = change_url
            .split_once(MARK)
            .expect("the change URL holds the key");
        let positions: Vec<Option<usize>> = columns
            .iter()
            .map(|name| M::META.fields.iter().position(|f| f.name == *name))
            .collect();
        let mut table = Vec::with_capacity(rows.len());
        for row in &rows {
            let values = row.to_values();
            let key = value_display(&row.pk_value());
            let cells: Vec<minijinja::Value> = columns
                .iter()
                .zip(&related)
                .zip(&positions)
                .map(|((name, related), position)| {
                    if let Some((_, _, column)) = self.computed.iter().find(|(n, ..)| n == name) {
                        return minijinja::Value::from(column(row));
                    }
                    let Some(index) = *position else {
                        return minijinja::Value::from("");
                    };
                    let field = &M::META.fields[index];
                    let text = value_display(&values[index]);
                    if let Some(labels) = related {
                        return minijinja::Value::from(labels.get(&text).cloned().unwrap_or(text));
                    }
                    // A choice shows its label.
                    minijinja::Value::from(
                        field
                            .choices
                            .and_then(|choices| {
                                choices
                                    .iter()
                                    .find(|c| c.value.to_string() == text)
                                    .map(|c| c.label.to_owned())
                            })
                            .unwrap_or(text),
                    )
                })
                .collect();
            let url = format!(
                "{url_start}{}{url_end}",
                crate::routing::urls::encode_segment(&key)
            );
            table.push(minijinja::Value::from_object(ChangeListRow {
                key: minijinja::Value::from(key),
                url: minijinja::Value::from(url),
                cells: minijinja::Value::from(cells),
                links: links.clone(),
            }));
        }
        let headers: Vec<minijinja::Value> = columns
            .iter()
            .map(|name| {
                if let Some((_, label, _)) = self.computed.iter().find(|(n, ..)| n == name) {
                    return context! { label => *label, url => "", sorted => "" };
                }
                let field = M::META.field(name).expect("checked at registration");
                let current = chosen.map(String::as_str);
                let (sorted, next) = match current {
                    Some(o) if o == *name => ("ascending", format!("-{name}")),
                    Some(o) if o.strip_prefix('-') == Some(name) => {
                        ("descending", (*name).to_owned())
                    }
                    _ => ("", (*name).to_owned()),
                };
                let url = super::filters::link(&request.query, "o", Some(&next));
                context! { label => capitalised(field.verbose_name), url, sorted }
            })
            .collect();
        Ok(Template::render(
            "admin/change_list.html",
            context! {
                site_title => request.site.site_title.clone(),
                site_header => request.site.site_header.clone(),
                model => model_context(&request, M::META)?,
                perms => request.perms,
                headers,
                rows => table,
                search,
                searchable => !self.search_fields.is_empty(),
                hidden => request
                    .query
                    .iter()
                    .filter(|(k, _)| k.as_str() != "q" && k.as_str() != "p")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<Vec<_>>(),
                filters,
                dates,
                show_all_url => (!show_all && !estimated && total > self.list_per_page && total <= self.list_max_show_all)
                    .then(|| super::filters::link(&request.query, "all", Some(""))),
                actions => super::actions::menu(&self.actions, request.perms),
                previous_url => (page > 1).then(|| super::filters::link(&request.query, "p", Some(&(page - 1).to_string()))),
                next_url => (page < pages).then(|| super::filters::link(&request.query, "p", Some(&(page + 1).to_string()))),
                page,
                pages,
                total,
                total_estimated => estimated,
            },
        )
        .into_response())
    }

    async fn add_page(&self, mut request: AdminRequest) -> Result<Response, Error> {
        if !request.perms.add {
            return Err(Error::forbidden(
                "You do not have permission to add rows here.",
            ));
        }
        let mut form = self.form_for(&request, true)?;
        let mut inlines = Vec::new();
        if request.method == Method::POST {
            let data = request.data.take().unwrap_or_default();
            let choice = SaveChoice::of(&data);
            // Bound first: autocomplete fields load the submitted rows.
            form = form.bind(data.clone()).with_choices(&request.db).await?;
            let (saved, shown, changes) = self.save_all(&request, &mut form, &data).await?;
            inlines = shown;
            if let Some(saved) = saved {
                let key = value_display(&saved.pk_value());
                let label = object_label(M::META, &saved);
                let mut message = "Added.".to_owned();
                for change in changes {
                    message.push(' ');
                    message.push_str(&change);
                }
                request
                    .log(M::META, &key, &label, ActionFlag::Addition, message)
                    .await?;
                request.success(format!(
                    "The {} “{label}” was added successfully.",
                    M::META.verbose_name
                ));
                return Ok(Redirect::to(&choice.target(&request, &key)?).into_response());
            }
        }
        if request.method != Method::POST {
            form = form.with_choices(&request.db).await?;
            inlines = self.show_inlines(&request, None).await?;
        }
        let bound = form.is_bound();
        form_page(
            &request,
            M::META,
            FormPage {
                form,
                bound,
                object: None,
                editable: true,
                password_page: false,
                inlines,
                fieldsets: &self.fieldsets,
            },
        )
    }

    async fn change_page(&self, mut request: AdminRequest, id: String) -> Result<Response, Error> {
        if !request.perms.view {
            return Err(Error::forbidden(
                "You do not have permission to view this row.",
            ));
        }
        let Some(object) = self.object(&request, &id).await? else {
            return Err(missing(M::META, &id));
        };
        let label = object_label(M::META, &object);
        let before = object.to_values();
        let parent_key = object.pk_value();
        let links_before = links_of(&request, M::META, &parent_key).await?;
        let on_site = self.view_on_site.as_ref().and_then(|url| url(&object));
        let mut inlines = Vec::new();
        let mut form = self.form_for(&request, false)?.instance(object);
        if request.method == Method::POST {
            if !request.perms.change {
                return Err(Error::forbidden(
                    "You do not have permission to change this row.",
                ));
            }
            let data = request.data.take().unwrap_or_default();
            if self.save_as && data.get("_saveasnew").is_some() {
                // The original's values without its key.
                // (A key typed by people stays: the form must change it.)
                let mut values = before.clone();
                let pk = M::META.pk();
                if matches!(pk.field_type, FieldType::AutoInt | FieldType::AutoBigInt) {
                    values[M::META.primary_key] = Value::Null(pk.field_type.kind());
                }
                let original = M::from_values(values)?;
                return self.save_as_new(request, data, original).await;
            }
            let choice = SaveChoice::of(&data);
            // Bound first: autocomplete fields load the submitted rows.
            form = form.bind(data.clone()).with_choices(&request.db).await?;
            let (saved, shown, changes) = self.save_all(&request, &mut form, &data).await?;
            inlines = shown;
            if let Some(saved) = saved {
                let key = value_display(&saved.pk_value());
                let label = object_label(M::META, &saved);
                let mut message = change_message(M::META, &before, &saved.to_values());
                // Many-to-many fields changed too (Django names them).
                let links_after = links_of(&request, M::META, &saved.pk_value()).await?;
                let relinked: Vec<&str> = links_before
                    .iter()
                    .zip(&links_after)
                    .filter(|((_, a), (_, b))| a != b)
                    .map(|((name, _), _)| *name)
                    .collect();
                if !relinked.is_empty() {
                    let also = format!("Changed {}.", relinked.join(" and "));
                    if message == "No fields changed." {
                        message = also;
                    } else {
                        message.push(' ');
                        message.push_str(&also);
                    }
                }
                if !changes.is_empty() {
                    if message == "No fields changed." {
                        message.clear();
                    }
                    for change in changes {
                        if !message.is_empty() {
                            message.push(' ');
                        }
                        message.push_str(&change);
                    }
                }
                request
                    .log(M::META, &key, &label, ActionFlag::Change, message)
                    .await?;
                request.success(format!(
                    "The {} “{label}” was changed successfully.",
                    M::META.verbose_name
                ));
                return Ok(Redirect::to(&choice.target(&request, &key)?).into_response());
            }
        }
        if !request.perms.change {
            let names: Vec<String> = form.field_names().iter().map(|n| (*n).to_owned()).collect();
            for name in names {
                if let Some(field) = form.field_mut(&name) {
                    field.disabled = true;
                }
            }
        }
        if request.method != Method::POST {
            form = form.with_choices(&request.db).await?;
            inlines = self.show_inlines(&request, Some(parent_key)).await?;
        }
        let bound = form.is_bound();
        form_page(
            &request,
            M::META,
            FormPage {
                form,
                bound,
                object: Some(ObjectInfo {
                    id,
                    label,
                    view_on_site: on_site,
                    save_as: self.save_as && request.perms.add,
                }),
                editable: request.perms.change,
                password_page: self.password_page,
                inlines,
                fieldsets: &self.fieldsets,
            },
        )
    }

    /// "Save as new": the change page's values as a new row (its children
    /// are not copied); the original is untouched.
    async fn save_as_new(
        &self,
        request: AdminRequest,
        data: crate::forms::FormData,
        original: M,
    ) -> Result<Response, Error> {
        if !request.perms.add {
            return Err(Error::forbidden(
                "You do not have permission to add rows here.",
            ));
        }
        // Read-only fields and fields outside the form keep the original's
        // values; the key is new.
        let mut form = self
            .form_for(&request, false)?
            .start_from(original)
            .bind(data)
            .with_choices(&request.db)
            .await?;
        if let Some(saved) = form.save(&request.db).await? {
            let key = value_display(&saved.pk_value());
            let label = object_label(M::META, &saved);
            request
                .log(
                    M::META,
                    &key,
                    &label,
                    ActionFlag::Addition,
                    "Added.".to_owned(),
                )
                .await?;
            request.success(format!(
                "The {} “{label}” was added successfully.",
                M::META.verbose_name
            ));
            return Ok(Redirect::to(&request.url("change", Some(&key))?).into_response());
        }
        let bound = form.is_bound();
        form_page(
            &request,
            M::META,
            FormPage {
                form,
                bound,
                object: None,
                editable: true,
                password_page: false,
                inlines: Vec::new(),
                fieldsets: &self.fieldsets,
            },
        )
    }

    async fn delete_page(&self, mut request: AdminRequest, id: String) -> Result<Response, Error> {
        if !request.perms.delete {
            return Err(Error::forbidden(
                "You do not have permission to delete this row.",
            ));
        }
        let Some(object) = self.object(&request, &id).await? else {
            return Err(missing(M::META, &id));
        };
        let label = object_label(M::META, &object);
        // The key as the row has it (the URL may write it otherwise: 001).
        let id = value_display(&object.pk_value());
        if request.method == Method::POST {
            request.data.take();
            match object.delete(&request.db).await {
                Ok(_) => {
                    request
                        .log(M::META, &id, &label, ActionFlag::Deletion, String::new())
                        .await?;
                    request.success(format!(
                        "The {} “{label}” was deleted successfully.",
                        M::META.verbose_name
                    ));
                }
                Err(err) if err.kind() == estate_orm::ErrorKind::Protected => {
                    request.error(format!(
                        "Cannot delete the {} “{label}”: {err}",
                        M::META.verbose_name
                    ));
                    return Ok(Redirect::to(&request.url("change", Some(&id))?).into_response());
                }
                Err(err) => return Err(err.into()),
            }
            return Ok(Redirect::to(&request.url("changelist", None)?).into_response());
        }
        let key = parse_key(M::META, &id).expect("the row was found by it");
        let (summary, protected) =
            match super::actions::deletion_summary(&request.db, M::META, vec![key]).await? {
                Ok(summary) => (summary, None),
                Err(reason) => (Vec::new(), Some(reason)),
            };
        Ok(Template::render(
            "admin/delete_confirmation.html",
            context! {
                site_title => request.site.site_title.clone(),
                site_header => request.site.site_header.clone(),
                model => model_context(&request, M::META)?,
                object => context! { label, url => request.url("change", Some(&id))? },
                summary,
                protected,
            },
        )
        .into_response())
    }
}

impl<M: Model> ModelAdmin<M> {
    async fn history_page(&self, request: AdminRequest, id: String) -> Result<Response, Error> {
        if !request.perms.view {
            return Err(Error::forbidden(
                "You do not have permission to view this row.",
            ));
        }
        let Some(object) = self.object(&request, &id).await? else {
            return Err(missing(M::META, &id));
        };
        let label = object_label(M::META, &object);
        let id = value_display(&object.pk_value());
        let entries = LogEntry::objects()
            .filter(LogEntry::APP_LABEL.eq(request.app_label.as_str()))
            .filter(LogEntry::MODEL.eq(request.model_name.as_str()))
            .filter(LogEntry::OBJECT_ID.eq(id.as_str()))
            .order_by([LogEntry::ACTION_TIME.asc(), LogEntry::ID.asc()])
            .select_related(LogEntry::USER)
            .all(&request.db)
            .await?;
        let entries: Vec<minijinja::Value> = entries
            .into_iter()
            .map(|entry| {
                context! {
                    time => entry.action_time.format("%Y-%m-%d %H:%M").to_string(),
                    user => entry.user.get().map(|u| u.username.clone()).unwrap_or_default(),
                    action => entry.action_flag.label(),
                    message => entry.change_message,
                }
            })
            .collect();
        Ok(Template::render(
            "admin/object_history.html",
            context! {
                site_title => request.site.site_title.clone(),
                site_header => request.site.site_header.clone(),
                model => model_context(&request, M::META)?,
                object => context! { label, url => request.url("change", Some(&id))? },
                entries,
            },
        )
        .into_response())
    }
}

impl<M: Model> AdminEntry for ModelAdmin<M> {
    fn meta(&self) -> &'static ModelMeta {
        M::META
    }

    fn changelist(&self, request: AdminRequest) -> BoxFuture<'_, Result<Response, Error>> {
        Box::pin(self.changelist_page(request))
    }

    fn add(&self, request: AdminRequest) -> BoxFuture<'_, Result<Response, Error>> {
        Box::pin(self.add_page(request))
    }

    fn change(&self, request: AdminRequest, id: String) -> BoxFuture<'_, Result<Response, Error>> {
        Box::pin(self.change_page(request, id))
    }

    fn delete(&self, request: AdminRequest, id: String) -> BoxFuture<'_, Result<Response, Error>> {
        Box::pin(self.delete_page(request, id))
    }

    fn history(&self, request: AdminRequest, id: String) -> BoxFuture<'_, Result<Response, Error>> {
        Box::pin(self.history_page(request, id))
    }

    fn autocomplete_targets(&self) -> Vec<(&'static str, &'static ModelMeta)> {
        self.widgets.autocomplete_targets(M::META)
    }

    fn searchable(&self) -> bool {
        !self.search_fields.is_empty()
    }

    fn search_rows<'a>(
        &'a self,
        db: &'a estate_orm::Database,
        term: &'a str,
        page: u64,
    ) -> BoxFuture<'a, Result<super::widgets::SearchPage, Error>> {
        Box::pin(super::widgets::search_rows::<M>(
            db,
            &self.search_fields,
            self.ordering,
            term,
            page,
        ))
    }
}

/// The keys each editable many-to-many field of a row links to, sorted
/// (to tell which ones a save changed).
async fn links_of(
    request: &AdminRequest,
    meta: &'static ModelMeta,
    key: &Value,
) -> Result<Vec<(&'static str, Vec<String>)>, Error> {
    let mut links = Vec::new();
    for many in meta.many_to_many.iter().filter(|m| m.auto_created) {
        let mut keys: Vec<String> = estate_orm::linked_keys(&request.db, many, key.clone())
            .await?
            .iter()
            .map(value_display)
            .collect();
        keys.sort();
        links.push((many.verbose_name, keys));
    }
    Ok(links)
}

/// What an add or change page shows.
pub(crate) struct FormPage<'a, F> {
    pub(crate) form: F,
    pub(crate) bound: bool,
    pub(crate) object: Option<ObjectInfo>,
    pub(crate) editable: bool,
    pub(crate) password_page: bool,
    pub(crate) inlines: Vec<minijinja::Value>,
    pub(crate) fieldsets: &'a [(&'static str, Vec<&'static str>)],
}

/// The row shown on a change page.
pub(crate) struct ObjectInfo {
    id: String,
    label: String,
    view_on_site: Option<String>,
    save_as: bool,
}

/// Why saving a parent and its inlines stopped.
enum SaveFailure {
    /// A row was invalid: everything is rolled back.
    Invalid,
    /// The database failed.
    Error(Error),
}

impl From<estate_orm::DbError> for SaveFailure {
    fn from(err: estate_orm::DbError) -> Self {
        SaveFailure::Error(err.into())
    }
}

/// Which save button was pressed (Django's `_continue`, `_addanother`).
enum SaveChoice {
    List,
    Continue,
    AddAnother,
}

impl SaveChoice {
    fn of(data: &crate::forms::FormData) -> SaveChoice {
        if data.get("_continue").is_some() {
            SaveChoice::Continue
        } else if data.get("_addanother").is_some() {
            SaveChoice::AddAnother
        } else {
            SaveChoice::List
        }
    }

    fn target(&self, request: &AdminRequest, key: &str) -> Result<String, Error> {
        match self {
            SaveChoice::List => request.url("changelist", None),
            SaveChoice::Continue => request.url("change", Some(key)),
            SaveChoice::AddAnother => request.url("add", None),
        }
    }
}

fn missing(meta: &ModelMeta, id: &str) -> Error {
    Error::not_found(format!(
        "{} with ID “{id}” doesn’t exist. Perhaps it was deleted?",
        capitalised(meta.verbose_name)
    ))
}

/// One row of the change list as templates see it: `key`, `url` (its
/// change page), `cells` (the columns' texts) and `links` (which cells link
/// to it). An object rather than a map: a page has hundreds of rows, and
/// building a map per row was a measurable share of the page.
#[derive(Debug)]
struct ChangeListRow {
    key: minijinja::Value,
    url: minijinja::Value,
    cells: minijinja::Value,
    links: minijinja::Value,
}

impl minijinja::value::Object for ChangeListRow {
    fn get_value(self: &std::sync::Arc<Self>, name: &minijinja::Value) -> Option<minijinja::Value> {
        Some(match name.as_str()? {
            "key" => self.key.clone(),
            "url" => self.url.clone(),
            "cells" => self.cells.clone(),
            "links" => self.links.clone(),
            _ => return None,
        })
    }

    fn enumerate(self: &std::sync::Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Str(&["key", "url", "cells", "links"])
    }
}

/// The search text of a query parameter: control characters dropped
/// (PostgreSQL refuses a NUL in text), trimmed, at most `MAX_SEARCH`
/// characters.
pub(crate) fn search_text(raw: Option<&String>) -> String {
    raw.map(|q| {
        q.chars()
            .filter(|c| !c.is_control())
            .take(MAX_SEARCH)
            .collect::<String>()
            .trim()
            .to_owned()
    })
    .unwrap_or_default()
}

/// The rows of `query` matching `search` in `fields`: every word in some
/// field, case-insensitive (Django's admin search). Nothing to search
/// keeps every row.
///
/// # Errors
/// A field that is not a text field of `M` (checked at registration).
pub(crate) fn apply_search<M: Model>(
    mut query: estate_orm::QuerySet<M>,
    fields: &[&'static str],
    search: &str,
) -> Result<estate_orm::QuerySet<M>, Error> {
    if fields.is_empty() {
        return Ok(query);
    }
    for word in search.split_whitespace() {
        let mut any: Option<Condition<M>> = None;
        for field in fields {
            let condition = Condition::<M>::field_icontains(field, word)?;
            any = Some(match any {
                Some(previous) => previous | condition,
                None => condition,
            });
        }
        if let Some(any) = any {
            query = query.filter(any);
        }
    }
    Ok(query)
}

/// The add or change page.
pub(crate) fn form_page<F: serde::Serialize>(
    request: &AdminRequest,
    meta: &'static ModelMeta,
    page: FormPage<'_, F>,
) -> Result<Response, Error> {
    let FormPage {
        form,
        bound,
        object,
        editable,
        password_page,
        inlines,
        fieldsets,
    } = page;
    let status = if bound {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let object = match object {
        Some(ObjectInfo {
            id,
            label,
            view_on_site,
            save_as,
        }) => Some(context! {
            label,
            view_on_site,
            save_as,
            delete_url => request.url("delete", Some(&id))?,
            history_url => request.url("history", Some(&id))?,
            password_url => password_page.then(|| request.url("password", Some(&id))).transpose()?,
        }),
        None => None,
    };
    let page = Template::render(
        "admin/change_form.html",
        context! {
            site_title => request.site.site_title.clone(),
            site_header => request.site.site_header.clone(),
            model => model_context(request, meta)?,
            perms => request.perms,
            form,
            object,
            editable,
            inlines,
            fieldsets => fieldsets
                .iter()
                .map(|(title, fields)| context! { title => *title, fields => fields.clone() })
                .collect::<Vec<_>>(),
        },
    );
    Ok((status, page).into_response())
}

/// The model as templates see it.
pub(crate) fn model_context(
    request: &AdminRequest,
    meta: &ModelMeta,
) -> Result<minijinja::Value, Error> {
    Ok(context! {
        app_label => request.app_label.clone(),
        name => request.model_name.clone(),
        verbose_name => meta.verbose_name,
        verbose_name_plural => capitalised(meta.verbose_name_plural),
        changelist_url => request.url("changelist", None)?,
        add_url => request.url("add", None)?,
    })
}

/// The text with a capital first letter.
pub(crate) fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// How a row is named in messages and titles: its first non-empty text
/// field, else "question (3)".
pub(crate) fn object_label<M: Model>(meta: &ModelMeta, object: &M) -> String {
    label_text(meta, object).unwrap_or_else(|| {
        format!(
            "{} ({})",
            meta.verbose_name,
            value_display(&object.pk_value())
        )
    })
}

/// The row's first non-empty text field (what selects show too), if any.
pub(crate) fn label_text<M: Model>(meta: &ModelMeta, object: &M) -> Option<String> {
    let values = object.to_values();
    meta.label_field()
        .and_then(|field| meta.fields.iter().position(|f| f.name == field.name))
        .and_then(|index| match &values[index] {
            Value::String(text) if !text.is_empty() => Some(text.clone()),
            _ => None,
        })
}

/// A value as the change list shows it ("-" for nothing).
pub(crate) fn value_display(value: &Value) -> String {
    match value {
        Value::Null(_) => "-".to_owned(),
        Value::Bool(true) => "Yes".to_owned(),
        Value::Bool(false) => "No".to_owned(),
        Value::DateTime(moment) => moment.format("%Y-%m-%d %H:%M").to_string(),
        Value::Bytes(bytes) => format!("({} bytes)", bytes.len()),
        other => crate::forms::bound::value_text(other).unwrap_or_default(),
    }
}

/// The key written `id` in a URL, as the type of the model's key; `None`
/// when it cannot be one (so the page is a 404, never a database error).
pub(crate) fn parse_key(meta: &ModelMeta, id: &str) -> Option<Value> {
    parse_field_value(meta.pk(), id)
}

/// A URL's text as a value of `field` (a key or another field a URL names
/// a row by); `None` when it cannot be one.
pub(crate) fn parse_field_value(field: &estate_orm::FieldMeta, id: &str) -> Option<Value> {
    if id.is_empty() || id.len() > 100 {
        return None;
    }
    Some(match field.field_type {
        FieldType::AutoBigInt | FieldType::BigInt => Value::I64(id.parse().ok()?),
        FieldType::AutoInt | FieldType::Int => Value::I32(id.parse().ok()?),
        FieldType::SmallInt => Value::I16(id.parse().ok()?),
        FieldType::String => Value::String(id.to_owned()),
        FieldType::Uuid => Value::Uuid(id.parse().ok()?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_display_like_djangos_change_list() {
        assert_eq!(value_display(&Value::Null(estate_orm::Kind::String)), "-");
        assert_eq!(value_display(&Value::Bool(true)), "Yes");
        assert_eq!(value_display(&Value::I64(42)), "42");
        assert_eq!(capitalised("question"), "Question");
        assert_eq!(capitalised(""), "");
    }
}
