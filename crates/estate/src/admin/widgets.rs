//! The admin's script-driven form options: `autocomplete_fields` (a search
//! box fed by `/admin/autocomplete/`), `filter_horizontal` (the two-pane
//! many-to-many selector) and `prepopulated_fields` (a slug filled in from
//! other fields while typing). Each one renders as an ordinary control with
//! a `data-` attribute that `admin.js` picks up, so a page without the
//! script still submits a valid form.

use estate_orm::{FieldType, Model, ModelMeta, OrderBy, Value};

use super::entry::AdminRequest;
use super::model_admin::{apply_search, label_text};
use crate::error::Error;
use crate::forms::{ModelForm, Widget};

/// Rows per page of autocomplete results (Django's `paginate_by = 20`).
pub(crate) const AUTOCOMPLETE_PAGE: u64 = 20;

/// The widget options of one `ModelAdmin`.
#[derive(Default)]
pub(crate) struct WidgetOptions {
    pub(crate) autocomplete: Vec<&'static str>,
    pub(crate) filter_horizontal: Vec<&'static str>,
    /// (slug field, fields it is made from).
    pub(crate) prepopulated: Vec<(&'static str, Vec<&'static str>)>,
}

impl WidgetOptions {
    /// Panics naming the model, the option and the fix when an option names
    /// a field of the wrong kind (called by `register`).
    pub(crate) fn check(&self, meta: &'static ModelMeta) {
        for name in &self.autocomplete {
            assert!(
                related_meta(meta, name).is_some(),
                "ModelAdmin<{}>::autocomplete_fields names `{name}`, which is not a foreign key \
                 or many-to-many field of {}",
                meta.name,
                meta.name
            );
        }
        for name in &self.filter_horizontal {
            assert!(
                meta.many_to_many(name).is_some(),
                "ModelAdmin<{}>::filter_horizontal names `{name}`, which is not a many-to-many \
                 field of {}",
                meta.name,
                meta.name
            );
            assert!(
                !self.autocomplete.contains(name),
                "ModelAdmin<{}>: `{name}` is in both autocomplete_fields and filter_horizontal; \
                 choose one",
                meta.name
            );
        }
        for (slug, sources) in &self.prepopulated {
            let field = meta.field(slug);
            assert!(
                field.is_some_and(|f| f.field_type == FieldType::String && f.relation.is_none()),
                "ModelAdmin<{}>::prepopulated_fields names `{slug}`, which is not a text field \
                 of {}",
                meta.name,
                meta.name
            );
            assert!(
                !sources.is_empty(),
                "ModelAdmin<{}>::prepopulated_fields(`{slug}`) names no field to fill it from",
                meta.name
            );
            for source in sources {
                assert!(
                    meta.field(source).is_some() && source != slug,
                    "ModelAdmin<{}>::prepopulated_fields(`{slug}`) fills it from `{source}`, \
                     which is not another field of {}",
                    meta.name,
                    meta.name
                );
            }
        }
    }

    /// The models the autocomplete fields search, by field.
    pub(crate) fn autocomplete_targets(
        &self,
        meta: &'static ModelMeta,
    ) -> Vec<(&'static str, &'static ModelMeta)> {
        self.autocomplete
            .iter()
            .filter_map(|name| related_meta(meta, name).map(|target| (*name, target)))
            .collect()
    }

    /// The form with the options' widgets and attributes; only fields the
    /// form has are touched. A slug is prepopulated on the add page only
    /// (Django's rule: a saved slug is a URL someone may rely on).
    ///
    /// # Errors
    /// When the autocomplete route cannot be reversed.
    pub(crate) fn apply<M: Model>(
        &self,
        mut form: ModelForm<M>,
        request: &AdminRequest,
        adding: bool,
    ) -> Result<ModelForm<M>, Error> {
        let present: Vec<String> = form.field_names().iter().map(|n| (*n).to_owned()).collect();
        let has = |name: &str| present.iter().any(|n| n == name);
        for name in self.autocomplete.iter().filter(|n| has(n)) {
            let base = request.urls.reverse("admin:autocomplete", ())?;
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("app_label", &request.app_label)
                .append_pair("model_name", &request.model_name)
                .append_pair("field_name", name)
                .finish();
            form = form.widget(
                name,
                Widget::Autocomplete {
                    url: format!("{base}?{query}"),
                },
            );
        }
        for name in self.filter_horizontal.iter().filter(|n| has(n)) {
            let many = M::META.many_to_many(name).expect("checked at registration");
            let label = many.verbose_name.to_owned();
            form = form.field(name, |field| field.attr("data-selector", &label));
        }
        if adding {
            for (slug, sources) in self.prepopulated.iter().filter(|(s, _)| has(s)) {
                let from = sources.join(" ");
                form = form.field(slug, |field| field.attr("data-prepopulate", &from));
            }
        }
        Ok(form)
    }
}

/// The model a foreign key or many-to-many field points at.
fn related_meta(meta: &'static ModelMeta, name: &str) -> Option<&'static ModelMeta> {
    if let Some(many) = meta.many_to_many(name) {
        return Some((many.target)());
    }
    meta.field(name)
        .and_then(|field| field.relation.as_ref())
        .map(|relation| (relation.target)())
}

/// One page of an autocomplete box's results.
pub(crate) struct SearchPage {
    /// (key, label) of each row, in the admin's order.
    pub(crate) rows: Vec<(String, String)>,
    /// Whether more pages follow.
    pub(crate) more: bool,
}

/// One page of rows matching `term` for an autocomplete box.
///
/// # Errors
/// A database failure.
pub(crate) async fn search_rows<M: Model>(
    db: &estate_orm::Database,
    search_fields: &[&'static str],
    ordering: Option<&'static str>,
    term: &str,
    page: u64,
) -> Result<SearchPage, Error> {
    let query = apply_search(M::objects(), search_fields, term)?;
    let mut order = Vec::new();
    match ordering {
        Some(spec) => order.push(OrderBy::<M>::field(spec)?),
        None if M::META.ordering.is_empty() => {}
        None => {
            for (name, descending) in M::META.ordering {
                let spec = if *descending {
                    format!("-{name}")
                } else {
                    (*name).to_owned()
                };
                order.push(OrderBy::<M>::field(&spec)?);
            }
        }
    }
    // The key last, so pages never overlap or skip rows on ties.
    order.push(OrderBy::<M>::field(M::META.pk().name)?);
    let rows = query
        .order_by(order)
        .offset((page - 1).saturating_mul(AUTOCOMPLETE_PAGE))
        .limit(AUTOCOMPLETE_PAGE + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > AUTOCOMPLETE_PAGE;
    let results = rows
        .iter()
        .take(AUTOCOMPLETE_PAGE as usize)
        .map(|row| {
            let key = match row.pk_value() {
                Value::Null(_) => String::new(),
                key => crate::forms::bound::value_text(&key).unwrap_or_default(),
            };
            // Labelled as the form's select labels it (the key without a
            // text field), so a chosen row reads the same after a save.
            let label = label_text(M::META, row).unwrap_or_else(|| key.clone());
            (key, label)
        })
        .collect();
    Ok(SearchPage {
        rows: results,
        more,
    })
}
