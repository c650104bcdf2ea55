//! The change list's filters (Django's `list_filter`): booleans, choices,
//! foreign keys and dates, chosen through the query string
//! (`?is_active=1`, `?status=draft`, `?question=3`,
//! `?pub_date=past_7_days`). A value that is not one of the filter's is a
//! 400 naming the filter, never a database error.

use std::collections::HashMap;

use estate_orm::chrono::{Datelike as _, Duration, NaiveDate, TimeZone as _, Utc};
use estate_orm::{Condition, Database, FieldMeta, FieldType, Model, Value};

use crate::error::Error;

/// The date ranges a date filter offers (Django's `DateFieldListFilter`).
const DATE_RANGES: [(&str, &str); 4] = [
    ("today", "Today"),
    ("past_7_days", "Past 7 days"),
    ("this_month", "This month"),
    ("this_year", "This year"),
];

/// Query-string names the change list uses itself.
pub(crate) const RESERVED: [&str; 3] = ["q", "o", "p"];

/// One filter's options, for the template.
#[derive(serde::Serialize)]
pub(crate) struct FilterView {
    title: String,
    choices: Vec<FilterChoice>,
}

#[derive(serde::Serialize)]
pub(crate) struct FilterChoice {
    label: String,
    url: String,
    selected: bool,
}

/// The query string with `name` set to `value` (or removed), the page
/// reset.
pub(crate) fn link(query: &HashMap<String, String>, name: &str, value: Option<&str>) -> String {
    let mut pairs: Vec<(&str, &str)> = query
        .iter()
        .filter(|(k, _)| k.as_str() != name && k.as_str() != "p")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if let Some(value) = value {
        pairs.push((name, value));
    }
    pairs.sort();
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("?{encoded}")
}

fn start_of_day(date: NaiveDate) -> Value {
    Value::DateTime(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists")))
}

/// `[from, to)` of a date range, as values of the field's type.
fn date_range(field: &FieldMeta, range: &str) -> Option<(Value, Value)> {
    let today = Utc::now().date_naive();
    let (from, to) = match range {
        "today" => (today, today + Duration::days(1)),
        "past_7_days" => (today - Duration::days(7), today + Duration::days(1)),
        "this_month" => {
            let first = today.with_day(1)?;
            let next = if first.month() == 12 {
                NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)?
            } else {
                NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)?
            };
            (first, next)
        }
        "this_year" => (
            NaiveDate::from_ymd_opt(today.year(), 1, 1)?,
            NaiveDate::from_ymd_opt(today.year() + 1, 1, 1)?,
        ),
        _ => return None,
    };
    Some(match field.field_type {
        FieldType::Date => (Value::Date(from), Value::Date(to)),
        _ => (start_of_day(from), start_of_day(to)),
    })
}

/// A value for a key of `meta`, parsed from the query string.
fn key_value(field_type: FieldType, text: &str) -> Option<Value> {
    Some(match field_type {
        FieldType::AutoBigInt | FieldType::BigInt => Value::I64(text.parse().ok()?),
        FieldType::AutoInt | FieldType::Int => Value::I32(text.parse().ok()?),
        FieldType::SmallInt => Value::I16(text.parse().ok()?),
        FieldType::String => Value::String(text.to_owned()),
        FieldType::Uuid => Value::Uuid(text.parse().ok()?),
        _ => return None,
    })
}

fn invalid(field: &FieldMeta, value: &str) -> Error {
    Error::bad_request(format!(
        "“{value}” is not one of the choices of the {} filter.",
        field.verbose_name
    ))
}

/// The conditions the chosen filters add, and what the sidebar shows.
pub(crate) async fn apply<M: Model>(
    db: &Database,
    names: &[&'static str],
    query: &HashMap<String, String>,
) -> Result<(Vec<Condition<M>>, Vec<FilterView>), Error> {
    let mut conditions = Vec::new();
    let mut views = Vec::new();
    for name in names {
        let chosen = query.get(*name).map(String::as_str);
        if let Some(many) = M::META.many_to_many(name) {
            // A many-to-many field: the rows linked to the chosen one.
            let target = (many.target)();
            let mut options = Vec::new();
            for (key, label) in estate_orm::choices(db, target, 1000).await? {
                let key = super::model_admin::value_display(&key);
                options.push((key.clone(), label.unwrap_or(key)));
            }
            if let Some(value) = chosen {
                let key = key_value(target.pk().field_type, value).ok_or_else(|| {
                    Error::bad_request(format!(
                        "“{value}” is not one of the choices of the {} filter.",
                        many.verbose_name
                    ))
                })?;
                conditions.push(Condition::linked_to(name, key)?);
            }
            views.push(view(
                query,
                name,
                &format!("By {}", many.verbose_name),
                chosen,
                options,
            ));
            continue;
        }
        let field = M::META.field(name).expect("checked at registration");
        let mut options: Vec<(String, String)> = Vec::new();
        if field.field_type == FieldType::Bool {
            options = vec![("1".into(), "Yes".into()), ("0".into(), "No".into())];
            if let Some(value) = chosen {
                let flag = match value {
                    "1" => true,
                    "0" => false,
                    other => return Err(invalid(field, other)),
                };
                conditions.push(Condition::field_equals(name, Value::Bool(flag))?);
            }
        } else if let Some(choices) = field.choices {
            options = choices
                .iter()
                .map(|c| (c.value.to_string(), c.label.to_owned()))
                .collect();
            if let Some(value) = chosen {
                let choice = choices
                    .iter()
                    .find(|c| c.value.to_string() == value)
                    .ok_or_else(|| invalid(field, value))?;
                let stored = match choice.value {
                    estate_orm::ChoiceValue::Text(text) => Value::String(text.to_owned()),
                    estate_orm::ChoiceValue::Int(number) => Value::I32(number),
                };
                conditions.push(Condition::field_equals(name, stored)?);
            }
        } else if let Some(relation) = &field.relation {
            let target = (relation.target)();
            for (key, label) in estate_orm::choices(db, target, 1000).await? {
                let key = super::model_admin::value_display(&key);
                options.push((key.clone(), label.unwrap_or(key)));
            }
            if let Some(value) = chosen {
                let key = key_value(target.pk().field_type, value)
                    .ok_or_else(|| invalid(field, value))?;
                conditions.push(Condition::field_equals(name, key)?);
            }
        } else if matches!(field.field_type, FieldType::Date | FieldType::DateTime) {
            options = DATE_RANGES
                .iter()
                .map(|(value, label)| ((*value).to_owned(), (*label).to_owned()))
                .collect();
            if let Some(value) = chosen {
                let (from, to) = date_range(field, value).ok_or_else(|| invalid(field, value))?;
                conditions.push(Condition::field_at_least(name, from)?);
                conditions.push(Condition::field_before(name, to)?);
            }
        }
        views.push(view(
            query,
            name,
            &format!("By {}", field.verbose_name),
            chosen,
            options,
        ));
    }
    Ok((conditions, views))
}

/// A filter's sidebar entry: "All", then each option.
fn view(
    query: &HashMap<String, String>,
    name: &str,
    title: &str,
    chosen: Option<&str>,
    options: Vec<(String, String)>,
) -> FilterView {
    let mut choices = vec![FilterChoice {
        label: "All".to_owned(),
        url: link(query, name, None),
        selected: chosen.is_none(),
    }];
    choices.extend(options.into_iter().map(|(value, label)| FilterChoice {
        selected: chosen == Some(value.as_str()),
        url: link(query, name, Some(&value)),
        label,
    }));
    FilterView {
        title: title.to_owned(),
        choices,
    }
}

/// Whether `field` can be a filter.
pub(crate) fn filterable(field: &FieldMeta) -> bool {
    field.field_type == FieldType::Bool
        || field.choices.is_some()
        || field.relation.is_some()
        || matches!(field.field_type, FieldType::Date | FieldType::DateTime)
}

/// Django's `date_hierarchy`: links to narrow the change list to a year,
/// then a month, then a day of one date field, through `<field>__year`,
/// `__month` and `__day` in the query string.
pub(crate) async fn date_hierarchy<M: Model>(
    db: &Database,
    name: &'static str,
    query: &HashMap<String, String>,
) -> Result<(Vec<Condition<M>>, Vec<FilterChoice>), Error> {
    let field = M::META.field(name).expect("checked at registration");
    let param = |part: &str| format!("{name}__{part}");
    let number = |part: &str| -> Result<Option<u32>, Error> {
        match query.get(&param(part)) {
            None => Ok(None),
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0 && *n < 10_000)
                .map(Some)
                .ok_or_else(|| invalid(field, text)),
        }
    };
    let (year, month, day) = (number("year")?, number("month")?, number("day")?);
    let without = |parts: &[&str]| {
        let mut kept = query.clone();
        for part in parts {
            kept.remove(&param(part));
        }
        kept
    };
    let date = |y: u32, m: u32, d: u32| {
        i32::try_from(y)
            .ok()
            .and_then(|y| NaiveDate::from_ymd_opt(y, m, d))
    };
    let mut links = Vec::new();
    let mut conditions = Vec::new();
    let bounds = match (year, month, day) {
        (Some(y), Some(m), Some(d)) => {
            let from = date(y, m, d).ok_or_else(|| invalid(field, &format!("{y}-{m}-{d}")))?;
            Some((from, from + Duration::days(1)))
        }
        (Some(y), Some(m), None) => {
            let from = date(y, m, 1).ok_or_else(|| invalid(field, &format!("{y}-{m}")))?;
            let to = if m == 12 {
                date(y + 1, 1, 1)
            } else {
                date(y, m + 1, 1)
            };
            Some((from, to.ok_or_else(|| invalid(field, &format!("{y}-{m}")))?))
        }
        (Some(y), None, _) => {
            let from = date(y, 1, 1).ok_or_else(|| invalid(field, &y.to_string()))?;
            Some((
                from,
                date(y + 1, 1, 1).ok_or_else(|| invalid(field, &y.to_string()))?,
            ))
        }
        (None, ..) => None,
    };
    if let Some((from, to)) = bounds {
        let value = |d: NaiveDate| match field.field_type {
            FieldType::Date => Value::Date(d),
            _ => start_of_day(d),
        };
        conditions.push(Condition::field_at_least(name, value(from))?);
        conditions.push(Condition::field_before(name, value(to))?);
    }
    match (year, month, day) {
        (None, ..) => {
            // The years between the first and the last row.
            let first = M::objects()
                .order_by([estate_orm::OrderBy::field(name)?])
                .first(db)
                .await?;
            let last = M::objects()
                .order_by([estate_orm::OrderBy::field(&format!("-{name}"))?])
                .first(db)
                .await?;
            let index = M::META
                .fields
                .iter()
                .position(|f| f.name == name)
                .expect("a field");
            let year_of = |row: Option<M>| {
                row.and_then(|r| match &r.to_values()[index] {
                    Value::Date(d) => Some(d.year()),
                    Value::DateTime(t) => Some(t.year()),
                    _ => None,
                })
            };
            if let (Some(a), Some(b)) = (year_of(first), year_of(last)) {
                for y in a..=b {
                    let mut q = query.clone();
                    q.insert(param("year"), y.to_string());
                    links.push(FilterChoice {
                        label: y.to_string(),
                        url: link(&q, "p", None),
                        selected: false,
                    });
                }
            }
        }
        (Some(y), None, _) => {
            links.push(FilterChoice {
                label: "‹ All dates".to_owned(),
                url: link(&without(&["year", "month", "day"]), "p", None),
                selected: false,
            });
            for m in 1..=12u32 {
                let mut q = query.clone();
                q.insert(param("month"), m.to_string());
                let label = date(y, m, 1)
                    .map(|d| d.format("%B %Y").to_string())
                    .unwrap_or_default();
                links.push(FilterChoice {
                    label,
                    url: link(&q, "p", None),
                    selected: false,
                });
            }
        }
        (Some(y), Some(m), _) => {
            links.push(FilterChoice {
                label: format!("‹ {y}"),
                url: link(&without(&["month", "day"]), "p", None),
                selected: false,
            });
            let days = (1..=31u32).take_while(|d| date(y, m, *d).is_some());
            for d in days {
                let mut q = query.clone();
                q.insert(param("day"), d.to_string());
                links.push(FilterChoice {
                    label: date(y, m, d)
                        .map(|x| x.format("%B %-d").to_string())
                        .unwrap_or_default(),
                    url: link(&q, "p", None),
                    selected: Some(d) == day,
                });
            }
        }
    }
    Ok((conditions, links))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_other_parameters_and_reset_the_page() {
        let query: HashMap<String, String> = [("q", "rust"), ("p", "3"), ("status", "draft")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(
            link(&query, "status", Some("live & well")),
            "?q=rust&status=live+%26+well"
        );
        assert_eq!(link(&query, "status", None), "?q=rust");
    }
}
