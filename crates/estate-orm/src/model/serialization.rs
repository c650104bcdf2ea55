//! Field values in Django's JSON serialization format, the form fixtures
//! (`dumpdata`, `loaddata`) and other data exchanges use:
//!
//! | field                  | JSON                                              |
//! |------------------------|---------------------------------------------------|
//! | integers, `f64`, `bool`| numbers, `true`/`false`                           |
//! | text, choices          | strings                                           |
//! | `Decimal`              | a string, exact: `"19.99"`                        |
//! | `NaiveDate`            | `"2024-05-01"`                                    |
//! | `NaiveTime`            | `"13:45:00"`, `"13:45:00.250"` (milliseconds)     |
//! | `DateTime<Utc>`        | `"2024-05-01T13:45:00Z"`, `"…:00.250Z"`           |
//! | `Uuid`                 | the hyphenated string                             |
//! | JSON                   | the document itself                               |
//! | `Vec<u8>`              | base64                                            |
//! | relations              | the related row's key, as its own type            |
//!
//! Like Django, moments and times are written to the millisecond (Django's
//! `DjangoJSONEncoder` cuts microseconds to three digits). Reading is lenient
//! the way Django's `to_python` is: numbers may come as strings, moments may
//! carry any offset or none (then UTC), and any fraction of a second.

use std::str::FromStr;

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use rust_decimal::Decimal;
use serde_json::Value as Json;

use super::meta::{FieldMeta, FieldType};
use crate::value::Value;

/// A value as Django's JSON serializer writes it (see the module docs).
pub fn value_to_json(value: &Value) -> Json {
    match value {
        Value::Null(_) => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::I16(n) => Json::from(*n),
        Value::I32(n) => Json::from(*n),
        Value::I64(n) => Json::from(*n),
        Value::F64(n) => serde_json::Number::from_f64(*n)
            .map(Json::Number)
            // JSON has no NaN or infinity: written as the text Python reads back.
            .unwrap_or_else(|| Json::String(non_finite_text(*n).to_owned())),
        Value::String(text) => Json::String(text.clone()),
        Value::Bytes(bytes) => {
            Json::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        Value::Decimal(number) => Json::String(number.to_string()),
        Value::Date(date) => Json::String(date.format("%Y-%m-%d").to_string()),
        Value::Time(time) => Json::String(time_text(time)),
        Value::DateTime(moment) => Json::String(moment_text(moment)),
        Value::Uuid(uuid) => Json::String(uuid.hyphenated().to_string()),
        Value::Json(document) => document.clone(),
    }
}

fn non_finite_text(n: f64) -> &'static str {
    if n.is_nan() {
        "NaN"
    } else if n > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

/// `HH:MM:SS`, plus `.mmm` when there is a fraction (Django cuts to milliseconds).
fn time_text(time: &NaiveTime) -> String {
    let micros = time.nanosecond() / 1000 % 1_000_000;
    let whole = time.format("%H:%M:%S");
    if micros == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{:03}", micros / 1000)
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.mmm]Z`, as Django writes an aware UTC datetime.
/// Written digit by digit: chrono's `format` parses its pattern on every
/// call, and API lists write many moments.
pub fn moment_text(moment: &DateTime<Utc>) -> String {
    use chrono::Datelike as _;
    let micros = moment.nanosecond() / 1000 % 1_000_000;
    let year = moment.year();
    if !(0..=9999).contains(&year) {
        let whole = moment.format("%Y-%m-%dT%H:%M:%S");
        return if micros == 0 {
            format!("{whole}Z")
        } else {
            format!("{whole}.{:03}Z", micros / 1000)
        };
    }
    let mut text = *b"0000-00-00T00:00:00.000Z";
    let mut two = |at: usize, n: u32| {
        text[at] = b'0' + (n / 10 % 10) as u8;
        text[at + 1] = b'0' + (n % 10) as u8;
    };
    let year = year.unsigned_abs();
    two(0, year / 100);
    two(2, year % 100);
    two(5, moment.month());
    two(8, moment.day());
    two(11, moment.hour());
    two(14, moment.minute());
    two(17, moment.second());
    let millis = micros / 1000;
    two(21, millis % 100);
    let len = if micros == 0 {
        text[19] = b'Z';
        20
    } else {
        text[20] = b'0' + (millis / 100) as u8;
        24
    };
    // ASCII digits and separators only: the check is a formality, and
    // `from_utf8` (unlike `from_utf8_lossy`) takes its ASCII fast path.
    std::str::from_utf8(&text[..len])
        .expect("digits and separators are ASCII")
        .to_owned()
}

/// Reads `json` as a value of `field` (a relation reads as the related key).
/// `null` is accepted for nullable fields, and for an auto-increment key
/// (the database then generates it). The message names no field: the
/// caller adds it.
///
/// # Errors
/// When the JSON does not fit the field's type, e.g. `"expected a whole
/// number, got \"many\""`.
pub fn value_from_json(field: &FieldMeta, json: &Json) -> Result<Value, String> {
    let kind = field.field_type.kind();
    if json.is_null() {
        return if field.null || field.is_auto() {
            Ok(Value::Null(kind))
        } else {
            Err("this field cannot be null".to_owned())
        };
    }
    let got = || format!("got {}", shown(json));
    match field.field_type {
        FieldType::SmallInt => integer(json)
            .and_then(|n| i16::try_from(n).ok())
            .map(Value::I16)
            .ok_or_else(|| format!("expected a whole number from -32768 to 32767, {}", got())),
        FieldType::AutoInt | FieldType::Int => integer(json)
            .and_then(|n| i32::try_from(n).ok())
            .map(Value::I32)
            .ok_or_else(|| format!("expected a 32-bit whole number, {}", got())),
        FieldType::AutoBigInt | FieldType::BigInt => integer(json)
            .map(Value::I64)
            .ok_or_else(|| format!("expected a whole number, {}", got())),
        FieldType::Bool => boolean(json)
            .map(Value::Bool)
            .ok_or_else(|| format!("expected true or false, {}", got())),
        FieldType::Float => float(json)
            .map(Value::F64)
            .ok_or_else(|| format!("expected a number, {}", got())),
        FieldType::String => json
            .as_str()
            .map(|text| Value::String(text.to_owned()))
            .ok_or_else(|| format!("expected text, {}", got())),
        FieldType::Decimal => decimal(json)
            .map(Value::Decimal)
            .ok_or_else(|| format!("expected a decimal number such as \"19.99\", {}", got())),
        FieldType::Date => json
            .as_str()
            .and_then(|text| NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok())
            .map(Value::Date)
            .ok_or_else(|| format!("expected a date such as \"2024-05-01\", {}", got())),
        FieldType::Time => json
            .as_str()
            .and_then(|text| time(text.trim()))
            .map(Value::Time)
            .ok_or_else(|| format!("expected a time such as \"13:45:00\", {}", got())),
        FieldType::DateTime => json
            .as_str()
            .and_then(|text| moment(text.trim()))
            .map(Value::DateTime)
            .ok_or_else(|| {
                format!(
                    "expected a date and time such as \"2024-05-01T13:45:00Z\", {}",
                    got()
                )
            }),
        FieldType::Uuid => json
            .as_str()
            .and_then(|text| uuid::Uuid::parse_str(text.trim()).ok())
            .map(Value::Uuid)
            .ok_or_else(|| format!("expected a UUID, {}", got())),
        FieldType::Json => Ok(Value::Json(json.clone())),
        FieldType::Bytes => json
            .as_str()
            .and_then(|text| {
                base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .ok()
            })
            .map(Value::Bytes)
            .ok_or_else(|| format!("expected base64 text, {}", got())),
    }
}

/// The JSON, shortened for a message.
fn shown(json: &Json) -> String {
    let text = json.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

fn integer(json: &Json) -> Option<i64> {
    match json {
        Json::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Json::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn boolean(json: &Json) -> Option<bool> {
    match json {
        Json::Bool(b) => Some(*b),
        Json::Number(n) => match n.as_i64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        // Django's BooleanField.to_python spellings.
        Json::String(text) => match text.trim() {
            "t" | "True" | "true" | "1" => Some(true),
            "f" | "False" | "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn float(json: &Json) -> Option<f64> {
    match json {
        Json::Number(n) => n.as_f64(),
        Json::String(text) => match text.trim() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            other => other.parse().ok(),
        },
        _ => None,
    }
}

fn decimal(json: &Json) -> Option<Decimal> {
    let text = match json {
        // The number's own digits, not a float's approximation.
        Json::Number(n) => n.to_string(),
        Json::String(text) => text.trim().to_owned(),
        _ => return None,
    };
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()
}

fn time(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M"))
        .ok()
}

/// RFC 3339 with any offset; without one (or with a space for the `T`), UTC;
/// a bare date is its midnight, as Django reads them.
fn moment(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(aware) = DateTime::parse_from_rfc3339(text) {
        return Some(aware.with_timezone(&Utc));
    }
    let spaced = text.replacen(' ', "T", 1);
    if let Ok(aware) = DateTime::parse_from_rfc3339(&spaced) {
        return Some(aware.with_timezone(&Utc));
    }
    if let Ok(naive) = NaiveDateTime::parse_from_str(&spaced, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(naive.and_utc());
    }
    if let Ok(naive) = NaiveDateTime::parse_from_str(&spaced, "%Y-%m-%dT%H:%M") {
        return Some(naive.and_utc());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|naive| naive.and_utc())
}

#[cfg(test)]
mod tests {
    #[test]
    fn moments_are_written_like_chronos_format() {
        use chrono::TimeZone as _;
        let slow = |m: &DateTime<Utc>| {
            let micros = m.nanosecond() / 1000 % 1_000_000;
            let whole = m.format("%Y-%m-%dT%H:%M:%S");
            if micros == 0 {
                format!("{whole}Z")
            } else {
                format!("{whole}.{:03}Z", micros / 1000)
            }
        };
        let base = Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 58).unwrap();
        for moment in [
            base,
            base + chrono::TimeDelta::milliseconds(7),
            base + chrono::TimeDelta::microseconds(250_999),
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap()
                + chrono::TimeDelta::nanoseconds(999),
        ] {
            assert_eq!(moment_text(&moment), slow(&moment), "{moment:?}");
        }
        assert_eq!(moment_text(&base), "2024-02-29T23:59:58Z");
    }

    use super::*;
    use serde_json::json;

    fn field(field_type: FieldType, null: bool) -> FieldMeta {
        FieldMeta {
            name: "f",
            column: "f",
            field_type,
            null,
            primary_key: false,
            unique: false,
            index: false,
            max_length: None,
            max_digits: None,
            decimal_places: None,
            default: None,
            verbose_name: "f",
            help_text: "",
            relation: None,
            choices: None,
            media_file: false,
        }
    }

    #[test]
    fn writes_what_django_writes() {
        let moment = DateTime::parse_from_rfc3339("2024-05-01T13:45:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            value_to_json(&Value::DateTime(moment)),
            json!("2024-05-01T13:45:00.123Z")
        );
        let whole = DateTime::parse_from_rfc3339("2024-05-01T13:45:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            value_to_json(&Value::DateTime(whole)),
            json!("2024-05-01T13:45:00Z")
        );
        let time = NaiveTime::from_hms_micro_opt(9, 5, 7, 250_000).unwrap();
        assert_eq!(value_to_json(&Value::Time(time)), json!("09:05:07.250"));
        assert_eq!(
            value_to_json(&Value::Decimal(Decimal::new(1000, 2))),
            json!("10.00")
        );
        assert_eq!(
            value_to_json(&Value::Date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap())),
            json!("2024-02-29")
        );
        assert_eq!(value_to_json(&Value::Bytes(b"hi".to_vec())), json!("aGk="));
        assert_eq!(value_to_json(&Value::F64(f64::NAN)), json!("NaN"));
    }

    #[test]
    fn reads_leniently_and_round_trips() {
        let int = field(FieldType::BigInt, false);
        assert_eq!(value_from_json(&int, &json!(5)).unwrap(), Value::I64(5));
        assert_eq!(value_from_json(&int, &json!("5")).unwrap(), Value::I64(5));
        let err = value_from_json(&int, &json!("many")).unwrap_err();
        assert!(
            err.contains("whole number") && err.contains("\"many\""),
            "{err}"
        );
        assert_eq!(
            value_from_json(&int, &Json::Null).unwrap_err(),
            "this field cannot be null"
        );
        assert_eq!(
            value_from_json(&field(FieldType::Int, true), &Json::Null).unwrap(),
            Value::Null(crate::Kind::I32)
        );
        let moment = field(FieldType::DateTime, false);
        for text in [
            "2024-05-01T15:45:00+02:00",
            "2024-05-01 13:45:00",
            "2024-05-01T13:45:00.000Z",
        ] {
            let value = value_from_json(&moment, &json!(text)).unwrap();
            assert_eq!(
                value_to_json(&value),
                json!("2024-05-01T13:45:00Z"),
                "{text}"
            );
        }
        let number = field(FieldType::Decimal, false);
        assert_eq!(
            value_from_json(&number, &json!(0.1)).unwrap(),
            Value::Decimal(Decimal::new(1, 1))
        );
        let flag = field(FieldType::Bool, false);
        assert_eq!(
            value_from_json(&flag, &json!("t")).unwrap(),
            Value::Bool(true)
        );
        let id = field(FieldType::Uuid, false);
        let uuid = "67e55044-10b1-426f-9247-bb680e5fe0c8";
        assert_eq!(
            value_to_json(&value_from_json(&id, &json!(uuid)).unwrap()),
            json!(uuid)
        );
        let bytes = field(FieldType::Bytes, false);
        assert_eq!(
            value_from_json(&bytes, &json!("aGk=")).unwrap(),
            Value::Bytes(b"hi".to_vec())
        );
    }
}
