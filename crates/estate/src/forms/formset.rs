//! Formsets: several forms of one kind on a page (Django's `formset_factory`),
//! with a management form counting them, extra empty forms, and deletion.

use std::collections::HashMap;

use estate_orm::Value;
use minijinja::value::{Object, ObjectRepr};

use super::bound::FormView;
use super::data::FormData;
use super::{BoundForm, Form, FormErrors, FormObject};
use crate::templates::escape_html as escape;

/// Django's cap on the number of forms a formset accepts, whatever
/// `TOTAL_FORMS` claims (protects against a forged count).
const ABSOLUTE_MAX: usize = 1000;

/// Several forms of `F`, named `prefix-0-field`, `prefix-1-field`...
///
/// ```
/// use estate::forms::{Form, FormData, FormSet};
///
/// #[derive(Form)]
/// struct Item { #[form(max_length = 50)] name: String, quantity: i32 }
///
/// let data = FormData::new()
///     .with("form-TOTAL_FORMS", "2").with("form-INITIAL_FORMS", "0")
///     .with("form-0-name", "Apples").with("form-0-quantity", "3")
///     .with("form-1-name", "").with("form-1-quantity", ""); // an untouched extra form
/// let mut formset = FormSet::<Item>::new().bind(data);
/// let items = formset.validate().expect("valid");
/// assert_eq!(items.forms.len(), 1);
/// ```
pub struct FormSet<F> {
    prefix: String,
    extra: usize,
    can_delete: bool,
    min_num: usize,
    max_num: usize,
    initial: Vec<Vec<(String, Value)>>,
    data: Option<FormData>,
    forms: Vec<BoundForm<F>>,
    non_form_errors: Vec<String>,
}

fn at_most(max: usize) -> String {
    format!(
        "Please submit at most {max} form{}.",
        if max == 1 { "" } else { "s" }
    )
}

/// What a valid formset holds.
#[derive(Debug)]
pub struct FormSetData<F> {
    /// The filled forms, in order (untouched extra forms and deleted ones
    /// left out).
    pub forms: Vec<F>,
    /// The indexes of the initial forms marked for deletion.
    pub deleted: Vec<usize>,
}

impl<F: Form> Default for FormSet<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Form> FormSet<F> {
    /// One extra empty form, prefix `form`, up to 1000 forms.
    pub fn new() -> Self {
        FormSet {
            prefix: "form".to_owned(),
            extra: 1,
            can_delete: false,
            min_num: 0,
            max_num: ABSOLUTE_MAX,
            initial: Vec::new(),
            data: None,
            forms: Vec::new(),
            non_form_errors: Vec::new(),
        }
    }

    /// Empty forms shown after the initial ones.
    pub fn extra(mut self, extra: usize) -> Self {
        self.extra = extra;
        self
    }

    /// Adds a "Delete" checkbox to each form.
    pub fn can_delete(mut self, can_delete: bool) -> Self {
        self.can_delete = can_delete;
        self
    }

    /// At least this many filled forms.
    pub fn min_num(mut self, min: usize) -> Self {
        self.min_num = min;
        self
    }

    /// At most this many forms (capped at 1000).
    pub fn max_num(mut self, max: usize) -> Self {
        self.max_num = max.min(ABSOLUTE_MAX);
        self
    }

    /// The field name prefix (`form` by default).
    pub fn prefix(mut self, prefix: &str) -> Self {
        prefix.clone_into(&mut self.prefix);
        self
    }

    /// Forms showing these values first (to edit them).
    pub fn initial(mut self, values: &[F]) -> Self {
        self.initial = values.iter().map(Form::to_initial).collect();
        self
    }

    /// With submitted data.
    pub fn bind(mut self, data: FormData) -> Self {
        self.data = Some(data);
        self
    }

    fn management(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    /// The forms an unbound formset shows: `max(initial, min_num) + extra`,
    /// at most `max_num` (but never fewer than the initial ones).
    fn unbound_total(&self) -> usize {
        let total = self.initial.len().max(self.min_num) + self.extra;
        total.min(self.max_num.max(self.initial.len()))
    }

    /// The posted `TOTAL_FORMS` and `INITIAL_FORMS`, or `None` with the
    /// formset's error recorded (missing, forged, or too many forms).
    fn posted_counts(&mut self, data: &FormData) -> Option<(usize, usize)> {
        let count = |name: &str| {
            data.get(&self.management(name))
                .and_then(|v| v.trim().parse::<usize>().ok())
        };
        let (Some(total), Some(initial)) = (count("TOTAL_FORMS"), count("INITIAL_FORMS")) else {
            self.non_form_errors.push(
                "ManagementForm data is missing or has been tampered with. Missing fields: \
                 TOTAL_FORMS, INITIAL_FORMS."
                    .to_owned(),
            );
            return None;
        };
        if total > ABSOLUTE_MAX.max(self.max_num) {
            self.non_form_errors.push(at_most(self.max_num));
            return None;
        }
        Some((total, initial.min(total)))
    }

    /// Each form's own fields and files (`prefix-N-...`), read in one pass,
    /// so a large formset never copies the whole body per form.
    fn split(&self, data: &FormData, total: usize) -> Vec<FormData> {
        let mut buckets = vec![FormData::new(); total];
        let prefix = format!("{}-", self.prefix);
        let index_of = |name: &str| -> Option<usize> {
            let (index, _) = name.strip_prefix(&prefix)?.split_once('-')?;
            index.parse::<usize>().ok().filter(|i| *i < total)
        };
        for (name, value) in data.iter() {
            if let Some(index) = index_of(name) {
                buckets[index] = std::mem::take(&mut buckets[index]).with(name, value);
            }
        }
        for (name, file) in data.all_files() {
            if let Some(index) = index_of(name) {
                buckets[index] = std::mem::take(&mut buckets[index]).with_file(name, file.clone());
            }
        }
        buckets
    }

    fn build_forms(&mut self, buckets: Option<Vec<FormData>>) {
        let forms: Vec<BoundForm<F>> = match buckets {
            Some(buckets) => buckets.into_iter().map(F::bind).collect(),
            None => (0..self.unbound_total()).map(|_| F::unbound()).collect(),
        };
        self.forms = forms
            .into_iter()
            .enumerate()
            .map(|(index, mut form)| {
                form = form.prefix(&format!("{}-{index}", self.prefix));
                if let Some(initial) = self.initial.get(index) {
                    form.state.initial = initial.iter().cloned().collect::<HashMap<_, _>>();
                }
                if self.can_delete {
                    form.state
                        .fields
                        .push(super::FormField::boolean("DELETE").label("Delete"));
                }
                form
            })
            .collect();
    }

    /// Whether form `index` differs from what it showed (an untouched extra
    /// form is skipped, like Django's `has_changed`), field by field.
    fn has_changed(&self, index: usize) -> bool {
        let form = &self.forms[index];
        let Some(data) = &form.state.data else {
            return false;
        };
        form.state
            .fields
            .iter()
            .filter(|f| f.name != "DELETE")
            .any(|field| {
                let name = form.state.html_name(&field.name);
                let initial = form
                    .state
                    .initial
                    .get(&field.name)
                    .or(field.initial.as_ref());
                match field.kind {
                    super::FieldKind::File { .. } => data.file(&name).is_some(),
                    super::FieldKind::Boolean => {
                        let ticked = data
                            .get(&name)
                            .is_some_and(|v| !matches!(v, "" | "false" | "False" | "0" | "off"));
                        ticked != matches!(initial, Some(estate_orm::Value::Bool(true)))
                    }
                    _ => {
                        let submitted = data.get(&name).unwrap_or("").trim();
                        let shown = initial
                            .and_then(super::bound::value_text)
                            .unwrap_or_default();
                        submitted != shown.trim()
                    }
                }
            })
    }

    fn marked_deleted(&self, index: usize) -> bool {
        self.can_delete
            && self.forms[index].state.data.as_ref().is_some_and(|data| {
                data.get(&format!("{}-{index}-DELETE", self.prefix))
                    .is_some_and(|v| !matches!(v, "" | "false" | "off" | "0"))
            })
    }

    /// Validates every form: the filled forms' values, or `None` with the
    /// errors kept on each form (and the formset's own, like too many forms).
    pub fn validate(&mut self) -> Option<FormSetData<F>> {
        self.non_form_errors.clear();
        let Some(data) = self.data.take() else {
            self.build_forms(None);
            return None;
        };
        let counts = self.posted_counts(&data);
        let buckets = counts.map(|(total, _)| self.split(&data, total));
        self.data = Some(data);
        let Some((_, initial_count)) = counts else {
            self.build_forms(None);
            return None;
        };
        self.build_forms(buckets);
        let mut out = FormSetData {
            forms: Vec::new(),
            deleted: Vec::new(),
        };
        let mut valid = true;
        for index in 0..self.forms.len() {
            if self.marked_deleted(index) {
                if index < initial_count {
                    out.deleted.push(index);
                }
                continue;
            }
            if index >= initial_count && !self.has_changed(index) {
                continue;
            }
            if self.can_delete {
                // The DELETE box is not part of `F`.
                self.forms[index]
                    .state
                    .fields
                    .retain(|f| f.name != "DELETE");
            }
            let result = self.forms[index].validate();
            if self.can_delete {
                self.forms[index]
                    .state
                    .fields
                    .push(super::FormField::boolean("DELETE").label("Delete"));
            }
            match result {
                Some(form) => out.forms.push(form),
                None => valid = false,
            }
        }
        if out.forms.len() > self.max_num {
            self.non_form_errors.push(at_most(self.max_num));
            valid = false;
        }
        if out.forms.len() < self.min_num {
            self.non_form_errors.push(format!(
                "Please submit at least {} form{}.",
                self.min_num,
                if self.min_num == 1 { "" } else { "s" }
            ));
            valid = false;
        }
        valid.then_some(out)
    }

    /// Errors about the formset as a whole.
    pub fn non_form_errors(&self) -> &[String] {
        &self.non_form_errors
    }

    /// Each form's errors, in order (after [`validate`](Self::validate)).
    pub fn errors(&self) -> Vec<&FormErrors> {
        self.forms.iter().map(BoundForm::errors).collect()
    }

    /// The hidden management fields Django's formsets post.
    fn management_form(&self, total: usize) -> String {
        let field = |name: &str, value: usize| {
            let full = escape(&self.management(name));
            format!("<input type=\"hidden\" name=\"{full}\" value=\"{value}\" id=\"id_{full}\">")
        };
        [
            field("TOTAL_FORMS", total),
            field("INITIAL_FORMS", self.initial.len()),
            field("MIN_NUM_FORMS", self.min_num),
            field("MAX_NUM_FORMS", self.max_num),
        ]
        .concat()
    }
}

impl<F: Form> From<FormSet<F>> for minijinja::Value {
    /// The formset object templates render (`context! { formset }`).
    fn from(formset: FormSet<F>) -> Self {
        formset.template_value()
    }
}

impl<F: Form> serde::Serialize for FormSet<F> {
    /// In a template context, the formset object.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.template_value().serialize(serializer)
    }
}

impl<F: Form> FormSet<F> {
    /// In a template: `{{ formset }}` renders the management form and every
    /// form; `formset.forms`, `formset.management_form` and
    /// `formset.non_form_errors` lay it out by hand.
    fn template_value(&self) -> minijinja::Value {
        let views: Vec<FormView> = if self.forms.is_empty() {
            // Not validated yet: the forms an unbound formset shows.
            let mut shown = FormSet::<F> {
                prefix: self.prefix.clone(),
                extra: self.extra,
                can_delete: self.can_delete,
                min_num: self.min_num,
                max_num: self.max_num,
                initial: self.initial.clone(),
                data: None,
                forms: Vec::new(),
                non_form_errors: Vec::new(),
            };
            shown.build_forms(None);
            shown.forms.iter().map(|f| f.state.view()).collect()
        } else {
            self.forms.iter().map(|f| f.state.view()).collect()
        };
        let object = FormSetObject {
            management_form: self.management_form(views.len()),
            forms: views
                .into_iter()
                .map(|view| minijinja::Value::from_object(FormObject(view)))
                .collect(),
            non_form_errors: self.non_form_errors.clone(),
        };
        minijinja::Value::from_object(object)
    }
}

/// A formset as templates see it.
#[derive(Debug)]
pub(crate) struct FormSetObject {
    management_form: String,
    forms: Vec<minijinja::Value>,
    non_form_errors: Vec<String>,
}

impl FormSetObject {
    /// `{{ formset }}`: the management form, the formset's errors, then
    /// every form with the form layout.
    pub(crate) fn render(
        &self,
        env: &minijinja::Environment<'_>,
    ) -> Result<String, minijinja::Error> {
        let mut out = self.management_form.clone();
        if !self.non_form_errors.is_empty() {
            out.push_str("<ul class=\"errorlist nonform\">");
            for error in &self.non_form_errors {
                out.push_str(&format!("<li>{}</li>", escape(error)));
            }
            out.push_str("</ul>");
        }
        for form in &self.forms {
            out.push_str(&super::render_form(env, form)?);
        }
        Ok(out)
    }
}

impl Object for FormSetObject {
    fn repr(self: &std::sync::Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &std::sync::Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        Some(match key.as_str()? {
            "management_form" => minijinja::Value::from_safe_string(self.management_form.clone()),
            "forms" => self.forms.clone().into(),
            "non_form_errors" => self.non_form_errors.clone().into(),
            "total_form_count" => self.forms.len().into(),
            _ => return None,
        })
    }
}
