//! Parsers for the human-friendly value forms used in settings: sizes
//! (`"2.5MiB"`), durations (`"30s"`), booleans and lists given as strings in
//! environment variables.

use std::time::Duration;

/// Parses a size: a whole number of bytes (`2621440`) or a number with a unit:
/// `B`, `KB`/`MB`/`GB` (powers of 1000) or `KiB`/`MiB`/`GiB` (powers of 1024).
/// Units are case-insensitive; fractions are allowed (`"2.5MiB"`).
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return None,
    };
    let bytes = number * multiplier as f64;
    (bytes.is_finite() && bytes >= 0.0 && bytes.fract() == 0.0 && bytes < u64::MAX as f64)
        .then_some(bytes as u64)
}

/// Parses a duration: a number with a unit `ms`, `s`, `m` or `h` (`"500ms"`,
/// `"30s"`, `"1.5m"`), or a bare number of seconds.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

/// Writes a duration the way settings take it: `"30s"`, `"500ms"`.
pub(crate) fn format_duration(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else if duration.subsec_nanos() % 1_000_000 == 0 {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{}s", duration.as_secs_f64())
    }
}

/// Serializes a duration setting as [`format_duration`] writes it.
pub(crate) fn serialize_duration<S: serde::Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_duration(*duration))
}

/// A duration setting where `0` means "none".
pub(crate) fn serialize_optional_duration<S: serde::Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serialize_duration(&duration.unwrap_or_default(), serializer)
}

/// A size setting where `0` means "no limit".
pub(crate) fn serialize_optional_size<S: serde::Serializer>(
    size: &Option<u64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(size.unwrap_or(0))
}

/// A header setting, written `"Name: value"`.
pub(crate) fn serialize_header<S: serde::Serializer>(
    header: &Option<(String, String)>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match header {
        Some((name, value)) => serializer.serialize_some(&format!("{name}: {value}")),
        None => serializer.serialize_none(),
    }
}

/// Parses the boolean spellings accepted in environment variables.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

/// Reads an environment variable's text as a TOML value (`true`, `42`,
/// `["a", "b"]`, `"quoted"`), or keeps it as a plain string when it is not
/// valid TOML (`hello`, `a.com,b.com`).
pub(crate) fn env_value(text: &str) -> toml::Value {
    let wrapped = format!("value = {text}");
    match wrapped.parse::<toml::Table>() {
        Ok(mut table) => table
            .remove("value")
            .unwrap_or_else(|| toml::Value::String(text.to_owned())),
        Err(_) => toml::Value::String(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2621440"), Some(2_621_440));
        assert_eq!(parse_size("2.5MiB"), Some(2_621_440));
        assert_eq!(parse_size("2.5 MB"), Some(2_500_000));
        assert_eq!(parse_size("512kib"), Some(524_288));
        assert_eq!(parse_size("1GB"), Some(1_000_000_000));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("10 parsecs"), None);
        assert_eq!(parse_size("0.5B"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5m"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("3 fortnights"), None);
    }

    #[test]
    fn bools() {
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn env_values_are_toml_or_plain_strings() {
        assert_eq!(env_value("true"), toml::Value::Boolean(true));
        assert_eq!(env_value("42"), toml::Value::Integer(42));
        assert_eq!(env_value("hello"), toml::Value::String("hello".into()));
        assert_eq!(env_value("\"true\""), toml::Value::String("true".into()));
        assert_eq!(
            env_value("a.com,b.com"),
            toml::Value::String("a.com,b.com".into())
        );
        assert!(matches!(env_value("[\"a\", \"b\"]"), toml::Value::Array(_)));
    }
}
