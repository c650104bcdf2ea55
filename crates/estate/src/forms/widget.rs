//! Widgets: the HTML control a field renders as, with the accessibility
//! attributes Django 5 adds (`required`, `maxlength`, `aria-invalid`,
//! `aria-describedby` pointing at the help text and the errors).

use super::field::FieldKind;
use crate::templates::escape_html as escape;

/// The HTML control for a field.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Widget {
    /// `<input type="text">`.
    TextInput,
    /// `<input type="email">`.
    EmailInput,
    /// `<input type="url">`.
    UrlInput,
    /// `<input type="number">` (`step="any"` for decimals and floats).
    NumberInput,
    /// `<input type="password">`; the submitted value is never shown again.
    PasswordInput,
    /// `<textarea>`.
    Textarea,
    /// `<input type="checkbox">`.
    CheckboxInput,
    /// `<select>`.
    Select,
    /// A group of `<input type="radio">`.
    RadioSelect,
    /// `<input type="date">`.
    DateInput,
    /// `<input type="time">`.
    TimeInput,
    /// `<input type="datetime-local">`.
    DateTimeInput,
    /// `<input type="hidden">`.
    HiddenInput,
    /// `<input type="file">` (never shows a value).
    FileInput,
    /// `<select multiple>`.
    SelectMultiple,
    /// A search box over the rows of a foreign key or many-to-many field,
    /// for tables too big for a select (the admin's `autocomplete_fields`).
    /// It renders as a `<select>` (`multiple` for many-to-many) holding only
    /// the chosen rows, with `data-autocomplete="{url}"`; the admin's script
    /// turns it into a search box that asks `url` plus `&term=...` for rows.
    /// [`ModelForm::with_choices`](super::ModelForm::with_choices) loads
    /// only the chosen rows (the submitted ones once bound, so call it after
    /// `bind`), and a key that is not a row is "Select a valid choice".
    Autocomplete {
        /// The JSON endpoint answering `{"results": [{"id", "text"}],
        /// "pagination": {"more"}}`.
        url: String,
    },
}

impl Widget {
    /// The usual widget for a kind of field.
    pub fn for_kind(kind: &FieldKind) -> Widget {
        match kind {
            FieldKind::Email => Widget::EmailInput,
            FieldKind::Url => Widget::UrlInput,
            FieldKind::Integer(_) | FieldKind::Float | FieldKind::Decimal { .. } => {
                Widget::NumberInput
            }
            FieldKind::Boolean => Widget::CheckboxInput,
            FieldKind::NullBoolean => Widget::Select,
            FieldKind::Date => Widget::DateInput,
            FieldKind::Time => Widget::TimeInput,
            FieldKind::DateTime => Widget::DateTimeInput,
            FieldKind::Json => Widget::Textarea,
            FieldKind::Choice { .. } => Widget::Select,
            FieldKind::File { .. } => Widget::FileInput,
            FieldKind::ModelChoice {
                choices: Some(_), ..
            } => Widget::Select,
            FieldKind::ModelChoice {
                key: estate_orm::Kind::I16 | estate_orm::Kind::I32 | estate_orm::Kind::I64,
                choices: None,
            } => Widget::NumberInput,
            FieldKind::ModelMultipleChoice { .. } => Widget::SelectMultiple,
            _ => Widget::TextInput,
        }
    }

    /// A widget by its Django name (`"textarea"`, `"password"`, `"radio"`...),
    /// for `#[form(widget = "...")]`.
    pub fn from_name(name: &str) -> Option<Widget> {
        Some(
            match name.to_ascii_lowercase().replace(['_', '-'], "").as_str() {
                "text" | "textinput" => Widget::TextInput,
                "email" | "emailinput" => Widget::EmailInput,
                "url" | "urlinput" => Widget::UrlInput,
                "number" | "numberinput" => Widget::NumberInput,
                "password" | "passwordinput" => Widget::PasswordInput,
                "textarea" => Widget::Textarea,
                "checkbox" | "checkboxinput" => Widget::CheckboxInput,
                "select" => Widget::Select,
                "radio" | "radioselect" => Widget::RadioSelect,
                "date" | "dateinput" => Widget::DateInput,
                "time" | "timeinput" => Widget::TimeInput,
                "datetime" | "datetimeinput" | "datetimelocal" => Widget::DateTimeInput,
                "hidden" | "hiddeninput" => Widget::HiddenInput,
                "file" | "fileinput" => Widget::FileInput,
                "selectmultiple" | "multiple" => Widget::SelectMultiple,
                _ => return None,
            },
        )
    }

    /// Whether the field is invisible (rendered without a label).
    pub fn is_hidden(&self) -> bool {
        matches!(self, Widget::HiddenInput)
    }

    /// Whether the widget searches the related rows instead of listing
    /// them all (so only the chosen rows are loaded).
    pub fn searches_rows(&self) -> bool {
        matches!(self, Widget::Autocomplete { .. })
    }
}

/// What a widget needs to render one field.
pub(crate) struct WidgetContext<'a> {
    pub(crate) widget: &'a Widget,
    pub(crate) kind: &'a FieldKind,
    pub(crate) html_name: &'a str,
    pub(crate) id: &'a str,
    /// The value to show (submitted or initial), as text.
    pub(crate) value: Option<&'a str>,
    pub(crate) required: bool,
    pub(crate) disabled: bool,
    pub(crate) max_length: Option<usize>,
    pub(crate) min_length: Option<usize>,
    /// The ids of the help text and error list, for `aria-describedby`.
    pub(crate) described_by: Vec<String>,
    pub(crate) invalid: bool,
    /// The chosen values of a multiple select.
    pub(crate) chosen: &'a [String],
    /// The field's extra attributes (`FormField::attrs`).
    pub(crate) attrs: &'a [(String, String)],
}

impl WidgetContext<'_> {
    /// Attributes shared by every control, each value escaped: the name,
    /// then `value` (if any), then the id and the state.
    fn common_attributes(&self, value: &str, with_id: bool) -> String {
        let mut out = format!(" name=\"{}\"{value}", escape(self.html_name));
        if with_id {
            out.push_str(&format!(" id=\"{}\"", escape(self.id)));
        }
        if self.required {
            out.push_str(" required");
        }
        if self.disabled {
            out.push_str(" disabled");
        }
        if !self.described_by.is_empty() {
            out.push_str(&format!(
                " aria-describedby=\"{}\"",
                escape(&self.described_by.join(" "))
            ));
        }
        if self.invalid {
            out.push_str(" aria-invalid=\"true\"");
        }
        for (name, value) in self.attrs {
            // `FormField::attr` checks names, but `attrs` is public: a name
            // that is not a plain attribute name is never written.
            if super::field::is_attribute_name(name) {
                out.push_str(&format!(" {name}=\"{}\"", escape(value)));
            }
        }
        out
    }

    fn length_attributes(&self) -> String {
        let mut out = String::new();
        if let Some(max) = self.max_length {
            out.push_str(&format!(" maxlength=\"{max}\""));
        }
        if let Some(min) = self.min_length {
            out.push_str(&format!(" minlength=\"{min}\""));
        }
        out
    }

    fn choices(&self) -> &[(String, String)] {
        match self.kind {
            FieldKind::Choice { choices, .. } => choices,
            FieldKind::ModelChoice {
                choices: Some(choices),
                ..
            }
            | FieldKind::ModelMultipleChoice {
                choices: Some(choices),
                ..
            } => choices,
            _ => &[],
        }
    }

    /// An autocomplete's `<select>`: only the chosen rows, as options.
    fn select_options(&self, attributes: &str, many: bool) -> String {
        let chosen: Vec<&str> = if many {
            self.chosen
                .iter()
                .map(String::as_str)
                .filter(|v| !v.is_empty())
                .collect()
        } else {
            self.value.filter(|v| !v.is_empty()).into_iter().collect()
        };
        let mut out = format!(
            "<select{attributes}{}>",
            if many { " multiple" } else { "" }
        );
        if !many {
            out.push_str("<option value=\"\">---------</option>");
        }
        for key in chosen {
            let label = self
                .choices()
                .iter()
                .find(|(value, _)| value == key)
                .map_or(key, |(_, label)| label.as_str());
            out.push_str(&format!(
                "<option value=\"{}\" selected>{}</option>",
                escape(key),
                escape(label)
            ));
        }
        out.push_str("</select>");
        out
    }

    /// The control's HTML.
    pub(crate) fn render(&self) -> String {
        let input = |kind: &str, extra: &str, show_value: bool| {
            let value = match self.value.filter(|v| show_value && !v.is_empty()) {
                Some(value) => format!(" value=\"{}\"", escape(value)),
                None => String::new(),
            };
            format!(
                "<input type=\"{kind}\"{}{extra}>",
                self.common_attributes(&value, true)
            )
        };
        match self.widget {
            Widget::TextInput => input("text", &self.length_attributes(), true),
            Widget::EmailInput => input("email", &self.length_attributes(), true),
            Widget::UrlInput => input("url", &self.length_attributes(), true),
            Widget::PasswordInput => input("password", &self.length_attributes(), false),
            Widget::HiddenInput => input("hidden", "", true),
            Widget::FileInput => {
                let accept = match self.kind {
                    FieldKind::File { allowed_extensions } if !allowed_extensions.is_empty() => {
                        format!(
                            " accept=\"{}\"",
                            escape(
                                &allowed_extensions
                                    .iter()
                                    .map(|e| format!(".{e}"))
                                    .collect::<Vec<_>>()
                                    .join(",")
                            )
                        )
                    }
                    _ => String::new(),
                };
                // An edit form says which file is kept if none is sent.
                let current = match self.value.filter(|v| !v.is_empty()) {
                    Some(name) => format!(
                        "<span class=\"current-file\">Currently: {}</span> ",
                        escape(name)
                    ),
                    None => String::new(),
                };
                format!("{current}{}", input("file", &accept, false))
            }
            Widget::DateInput => input("date", "", true),
            Widget::TimeInput => input("time", "", true),
            Widget::DateTimeInput => input("datetime-local", "", true),
            Widget::NumberInput => {
                let step = match self.kind {
                    FieldKind::Float | FieldKind::Decimal { .. } => " step=\"any\"",
                    _ => "",
                };
                input("number", step, true)
            }
            Widget::CheckboxInput => {
                let checked = self
                    .value
                    .is_some_and(|v| !matches!(v, "" | "false" | "False" | "0" | "off"));
                // A checkbox is "required" only when it must be ticked.
                format!(
                    "<input type=\"checkbox\"{}{}>",
                    self.common_attributes("", true),
                    if checked { " checked" } else { "" }
                )
            }
            Widget::Textarea => format!(
                "<textarea{} cols=\"40\" rows=\"10\"{}>\n{}</textarea>",
                self.common_attributes("", true),
                self.length_attributes(),
                escape(self.value.unwrap_or(""))
            ),
            Widget::Select if matches!(self.kind, FieldKind::NullBoolean) => {
                let chosen = self.value.unwrap_or("");
                let mut out = format!("<select{}>", self.common_attributes("", true));
                for (value, label) in [("", "Unknown"), ("true", "Yes"), ("false", "No")] {
                    out.push_str(&format!(
                        "<option value=\"{value}\"{}>{label}</option>",
                        if value == chosen { " selected" } else { "" }
                    ));
                }
                out.push_str("</select>");
                out
            }
            Widget::Select => {
                let mut out = format!("<select{}>", self.common_attributes("", true));
                let chosen = self.value.unwrap_or("");
                if !self.required || chosen.is_empty() {
                    out.push_str(&format!(
                        "<option value=\"\"{}>---------</option>",
                        if chosen.is_empty() { " selected" } else { "" }
                    ));
                }
                for (value, label) in self.choices() {
                    out.push_str(&format!(
                        "<option value=\"{}\"{}>{}</option>",
                        escape(value),
                        if value == chosen { " selected" } else { "" },
                        escape(label)
                    ));
                }
                out.push_str("</select>");
                out
            }
            Widget::Autocomplete { url } => {
                let many = matches!(self.kind, FieldKind::ModelMultipleChoice { .. });
                let attributes = format!(
                    "{} data-autocomplete=\"{}\"",
                    self.common_attributes("", true),
                    escape(url)
                );
                if many && !self.disabled {
                    // Sent even when every row is removed, so "none chosen"
                    // is told apart from "not on the page".
                    let mut out = format!(
                        "<input type=\"hidden\" name=\"{}\" value=\"\">",
                        escape(self.html_name)
                    );
                    out.push_str(&self.select_options(&attributes, true));
                    out
                } else {
                    self.select_options(&attributes, many)
                }
            }
            Widget::SelectMultiple => {
                let mut out = format!("<select{} multiple>", self.common_attributes("", true));
                for (value, label) in self.choices() {
                    out.push_str(&format!(
                        "<option value=\"{}\"{}>{}</option>",
                        escape(value),
                        if self.chosen.contains(value) {
                            " selected"
                        } else {
                            ""
                        },
                        escape(label)
                    ));
                }
                out.push_str("</select>");
                out
            }
            Widget::RadioSelect => {
                let chosen = self.value.unwrap_or("");
                let mut out = format!("<div id=\"{}\">", escape(self.id));
                for (index, (value, label)) in self.choices().iter().enumerate() {
                    let id = format!("{}_{index}", self.id);
                    out.push_str(&format!(
                        "<div><label for=\"{id}\"><input type=\"radio\"{} \
                         id=\"{id}\"{}> {}</label></div>",
                        self.common_attributes(&format!(" value=\"{}\"", escape(value)), false),
                        if value == chosen { " checked" } else { "" },
                        escape(label),
                        id = escape(&id),
                    ));
                }
                out.push_str("</div>");
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::FormField;

    fn render(field: &FormField, value: Option<&str>, chosen: &[String]) -> String {
        WidgetContext {
            widget: &field.widget,
            kind: &field.kind,
            html_name: &field.name,
            id: &format!("id_{}", field.name),
            value,
            required: field.required,
            disabled: field.disabled,
            max_length: field.max_length,
            min_length: field.min_length,
            described_by: Vec::new(),
            invalid: false,
            chosen,
            attrs: &field.attrs,
        }
        .render()
    }

    #[test]
    fn extra_attributes_render_after_the_standard_ones_escaped() {
        let field = FormField::text("title")
            .attr("class", "wide")
            .attr("data-note", "\"><script>")
            .attr("CLASS", "narrow");
        assert_eq!(
            render(&field, Some("Hi"), &[]),
            "<input type=\"text\" name=\"title\" value=\"Hi\" id=\"id_title\" required \
             data-note=\"&quot;&gt;&lt;script&gt;\" CLASS=\"narrow\">"
        );
    }

    #[test]
    #[should_panic(expected = "FormField::attr(\"onclick x\") on `title`: an attribute name")]
    fn an_attribute_name_with_a_space_is_refused() {
        let _ = FormField::text("title").attr("onclick x", "");
    }

    #[test]
    #[should_panic(
        expected = "FormField::attr(\"name\") on `title`: the widget sets `name` itself"
    )]
    fn attributes_the_widget_owns_are_refused() {
        let _ = FormField::text("title").attr("name", "other");
    }

    #[test]
    #[should_panic(expected = "use the field's own option (.required(), .disabled()")]
    fn attributes_with_a_field_option_point_at_it() {
        let _ = FormField::text("title").attr("Required", "");
    }

    #[test]
    fn a_name_pushed_past_the_check_is_never_written() {
        let mut field = FormField::text("title").attr("class", "wide");
        field.attrs.push(("onclick=alert(1) x".into(), "y".into()));
        assert_eq!(
            render(&field, None, &[]),
            "<input type=\"text\" name=\"title\" id=\"id_title\" required class=\"wide\">"
        );
    }

    #[test]
    fn an_autocomplete_shows_only_the_chosen_rows_with_their_labels() {
        let one = FormField::new(
            "author",
            FieldKind::ModelChoice {
                key: estate_orm::Kind::I64,
                choices: Some(vec![("7".into(), "Ann <3".into())]),
            },
        )
        .widget(Widget::Autocomplete {
            url: "/admin/autocomplete/?a=1&b=2".into(),
        });
        assert_eq!(
            render(&one, Some("7"), &[]),
            "<select name=\"author\" id=\"id_author\" required \
             data-autocomplete=\"/admin/autocomplete/?a=1&amp;b=2\">\
             <option value=\"\">---------</option>\
             <option value=\"7\" selected>Ann &lt;3</option></select>"
        );
        let many = FormField::new(
            "tags",
            FieldKind::ModelMultipleChoice {
                key: estate_orm::Kind::I64,
                choices: Some(vec![("1".into(), "rust".into())]),
            },
        )
        .required(false)
        .widget(Widget::Autocomplete { url: "/x".into() });
        // A key without a loaded label shows the key.
        assert_eq!(
            render(&many, None, &[String::new(), "1".into(), "9".into()]),
            "<input type=\"hidden\" name=\"tags\" value=\"\">\
             <select name=\"tags\" id=\"id_tags\" data-autocomplete=\"/x\" multiple>\
             <option value=\"1\" selected>rust</option>\
             <option value=\"9\" selected>9</option></select>"
        );
    }
}
