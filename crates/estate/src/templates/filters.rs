//! Django's filters, for templates written by Django users: `default`
//! (on any falsy value), `default_if_none`, `truncatechars`,
//! `truncatewords`, `pluralize`, `linebreaksbr`, `urlize`,
//! `filesizeformat`, `yesno`, `floatformat`, `slugify`, `json_script`,
//! `date`, `time` and `timesince`. Output that is HTML is marked safe and
//! escapes what it wraps.

use estate_orm::chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind, State};

pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_filter("default", default);
    env.add_filter("default_if_none", default_if_none);
    env.add_filter("truncatechars", truncatechars);
    env.add_filter("truncatewords", truncatewords);
    env.add_filter("pluralize", pluralize);
    env.add_filter("linebreaksbr", linebreaksbr);
    env.add_filter("urlize", urlize);
    env.add_filter("filesizeformat", filesizeformat);
    env.add_filter("yesno", yesno);
    env.add_filter("floatformat", floatformat);
    env.add_filter("slugify", slugify);
    env.add_filter("json_script", json_script);
    env.add_filter("date", date);
    env.add_filter("time", time);
    env.add_filter("timesince", timesince);
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// `{{ x|default:"-" }}` in Django: the default for any falsy value.
fn default(value: Value, fallback: Option<Value>) -> Value {
    if value.is_true() {
        value
    } else {
        fallback.unwrap_or_else(|| Value::from(""))
    }
}

/// The default only for `None` (and undefined).
fn default_if_none(value: Value, fallback: Value) -> Value {
    if value.is_none() || value.is_undefined() {
        fallback
    } else {
        value
    }
}

/// At most `n` characters, the last one an ellipsis when cut.
fn truncatechars(text: String, n: usize) -> String {
    if text.chars().count() <= n {
        return text;
    }
    let mut out: String = text.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// At most `n` words, then ` …`.
fn truncatewords(text: String, n: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() <= n {
        return text;
    }
    format!("{} …", words[..n].join(" "))
}

/// `"s"` unless the value is 1; `pluralize("y,ies")` picks between two.
fn pluralize(value: Value, suffixes: Option<String>) -> Result<String, Error> {
    let count = if let Some(n) = value.as_i64() {
        n
    } else if let Ok(length) = value.len().ok_or(()) {
        i64::try_from(length).unwrap_or(i64::MAX)
    } else {
        f64::try_from(value).map_or(0, |f| if (f - 1.0).abs() < f64::EPSILON { 1 } else { 2 })
    };
    let suffixes = suffixes.unwrap_or_else(|| "s".to_owned());
    let (singular, plural) = match suffixes.split_once(',') {
        Some((one, many)) => (one.to_owned(), many.to_owned()),
        None => (String::new(), suffixes),
    };
    Ok(if count == 1 { singular } else { plural })
}

/// Writes `text` HTML-escaped (`& < > " '`, Django's set) without
/// allocating: runs of plain text are written as they are.
pub(crate) fn write_escaped(out: &mut impl std::fmt::Write, text: &str) -> std::fmt::Result {
    let mut plain_from = 0;
    for (index, byte) in text.bytes().enumerate() {
        // One comparison for most bytes: every escaped one lies in `"`..=`>`.
        if byte.wrapping_sub(b'"') > b'>' - b'"' {
            continue;
        }
        let entity = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#x27;",
            _ => continue,
        };
        if plain_from < index {
            out.write_str(&text[plain_from..index])?;
        }
        out.write_str(entity)?;
        plain_from = index + 1;
    }
    if plain_from < text.len() {
        out.write_str(&text[plain_from..])?;
    }
    Ok(())
}

/// A writer that escapes everything written through it.
pub(crate) struct Escaping<'a, W: std::fmt::Write>(pub(crate) &'a mut W);

impl<W: std::fmt::Write> std::fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        write_escaped(self.0, text)
    }
}

/// HTML-escapes `& < > " '` (Django's set).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

/// The text as HTML (escaped unless already safe), so filters that add
/// markup never let the value's own markup through.
fn html_of(state: &State<'_, '_>, value: &Value) -> String {
    let text = value.to_string();
    if value.is_safe() || matches!(state.auto_escape(), minijinja::AutoEscape::None) {
        text
    } else {
        escape(&text)
    }
}

/// Line breaks as `<br>`; the rest escaped.
fn linebreaksbr(state: &State<'_, '_>, value: Value) -> Value {
    Value::from_safe_string(
        html_of(state, &value)
            .replace("\r\n", "\n")
            .replace('\n', "<br>"),
    )
}

/// `http(s)://` addresses as links (`rel="nofollow"`); the rest escaped.
fn urlize(value: Value) -> Value {
    let text = value.to_string();
    let mut out = String::new();
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let trimmed = word.trim_end_matches(['.', ',', ')', '!', '?', ';', ':']);
        let tail = &word[trimmed.len()..];
        if (trimmed.starts_with("http://") || trimmed.starts_with("https://")) && trimmed.len() > 8
        {
            out.push_str(&format!(
                "<a href=\"{0}\" rel=\"nofollow\">{0}</a>{1}",
                escape(trimmed),
                escape(tail)
            ));
        } else {
            out.push_str(&escape(word));
        }
    }
    Value::from_safe_string(out)
}

/// `13 KB`, `4.1 MB`, `102 bytes`.
fn filesizeformat(value: Value) -> String {
    let bytes = f64::try_from(value).unwrap_or(0.0);
    let units = ["KB", "MB", "GB", "TB", "PB"];
    if bytes.abs() < 1024.0 {
        let n = bytes as i64;
        return format!("{n} byte{}", if n == 1 { "" } else { "s" });
    }
    let mut size = bytes / 1024.0;
    let mut unit = 0;
    while size.abs() >= 1024.0 && unit < units.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    format!("{:.1} {}", size, units[unit])
}

/// `yesno("yes,no,maybe")`: by truthiness, the third for None.
fn yesno(value: Value, choices: Option<String>) -> Result<String, Error> {
    let choices = choices.unwrap_or_else(|| "yes,no,maybe".to_owned());
    let parts: Vec<&str> = choices.split(',').collect();
    let (yes, no, maybe) = match parts.as_slice() {
        [yes, no] => (*yes, *no, *no),
        [yes, no, maybe] => (*yes, *no, *maybe),
        _ => return Err(invalid("yesno takes \"yes,no\" or \"yes,no,maybe\"")),
    };
    Ok(if value.is_none() || value.is_undefined() {
        maybe
    } else if value.is_true() {
        yes
    } else {
        no
    }
    .to_owned())
}

/// Django's `floatformat`: by default one decimal only when there is a
/// fraction; `n` decimals always; `-n` up to n decimals only when needed.
fn floatformat(value: Value, places: Option<i32>) -> String {
    let number = match f64::try_from(value.clone()) {
        Ok(n) => n,
        Err(_) => match value.to_string().parse::<f64>() {
            Ok(n) => n,
            Err(_) => return String::new(),
        },
    };
    let places = places.unwrap_or(-1);
    let digits = places.unsigned_abs() as usize;
    let formatted = format!("{number:.digits$}");
    if places < 0 && number.fract() == 0.0 {
        format!("{number:.0}")
    } else {
        formatted
    }
}

/// Lower case ASCII letters, digits and hyphens: `Hello, World!` →
/// `hello-world`.
fn slugify(text: String) -> String {
    let mut slug = String::new();
    let mut pending_dash = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || c == '_' {
            if pending_dash && !slug.is_empty() {
                slug.push('-');
            }
            pending_dash = false;
            slug.push(c);
        } else if c.is_whitespace() || c == '-' {
            pending_dash = true;
        }
    }
    slug
}

/// The value as JSON in `<script id=".." type="application/json">`, safe to
/// embed: `<`, `>` and `&` are written as `\u003C` and so on.
fn json_script(value: Value, id: String) -> Result<Value, Error> {
    let json = serde_json::to_string(&value)
        .map_err(|err| invalid(format!("json_script: {err}")))?
        .replace('<', "\\u003C")
        .replace('>', "\\u003E")
        .replace('&', "\\u0026");
    Ok(Value::from_safe_string(format!(
        "<script id=\"{}\" type=\"application/json\">{json}</script>",
        escape(&id)
    )))
}

/// A moment from a template value: RFC 3339 text, `YYYY-MM-DD HH:MM:SS`,
/// or a date.
fn moment(value: &Value) -> Option<NaiveDateTime> {
    let text = value.to_string();
    if let Ok(moment) = DateTime::parse_from_rfc3339(&text) {
        return Some(moment.with_timezone(&Utc).naive_utc());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(moment) = NaiveDateTime::parse_from_str(&text, format) {
            return Some(moment);
        }
    }
    if let Ok(day) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
        return day.and_hms_opt(0, 0, 0);
    }
    NaiveTime::parse_from_str(&text, "%H:%M:%S%.f")
        .ok()
        .map(|t| NaiveDate::default().and_time(t))
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Formats with Django's format characters (`d j D l m n M F N y Y H G h g
/// i s A a`); a backslash keeps the next character.
fn django_format(moment: NaiveDateTime, format: &str) -> String {
    let mut out = String::new();
    let mut chars = format.chars();
    let hour12 = if moment.hour() % 12 == 0 {
        12
    } else {
        moment.hour() % 12
    };
    let month = MONTHS[moment.month0() as usize];
    let day = DAYS[moment.weekday().num_days_from_monday() as usize];
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            'd' => out.push_str(&format!("{:02}", moment.day())),
            'j' => out.push_str(&moment.day().to_string()),
            'D' => out.push_str(&day[..3]),
            'l' => out.push_str(day),
            'm' => out.push_str(&format!("{:02}", moment.month())),
            'n' => out.push_str(&moment.month().to_string()),
            'M' => out.push_str(&month[..3]),
            'F' => out.push_str(month),
            'N' => out.push_str(if month.len() <= 5 { month } else { &month[..3] }),
            'y' => out.push_str(&format!("{:02}", moment.year() % 100)),
            'Y' => out.push_str(&moment.year().to_string()),
            'H' => out.push_str(&format!("{:02}", moment.hour())),
            'G' => out.push_str(&moment.hour().to_string()),
            'h' => out.push_str(&format!("{hour12:02}")),
            'g' => out.push_str(&hour12.to_string()),
            'i' => out.push_str(&format!("{:02}", moment.minute())),
            's' => out.push_str(&format!("{:02}", moment.second())),
            'A' => out.push_str(if moment.hour() < 12 { "AM" } else { "PM" }),
            'a' => out.push_str(if moment.hour() < 12 { "a.m." } else { "p.m." }),
            other => out.push(other),
        }
    }
    out
}

/// `{{ pub_date|date("Y-m-d H:i") }}`; default `N j, Y`.
fn date(value: Value, format: Option<String>) -> Result<String, Error> {
    let moment = moment(&value).ok_or_else(|| invalid(format!("date: `{value}` is not a date")))?;
    Ok(django_format(moment, format.as_deref().unwrap_or("N j, Y")))
}

/// `{{ pub_date|time("H:i") }}`; default `P`-like `g:i a`.
fn time(value: Value, format: Option<String>) -> Result<String, Error> {
    let moment = moment(&value).ok_or_else(|| invalid(format!("time: `{value}` is not a time")))?;
    Ok(django_format(moment, format.as_deref().unwrap_or("g:i a")))
}

/// `3 days, 2 hours`: from the value to now (or to `now=...`), the two
/// largest units, like Django.
fn timesince(value: Value, kwargs: Kwargs) -> Result<String, Error> {
    let then =
        moment(&value).ok_or_else(|| invalid(format!("timesince: `{value}` is not a date")))?;
    let now = match kwargs.get::<Option<Value>>("now")? {
        Some(now) => moment(&now).ok_or_else(|| invalid("timesince: `now` is not a date"))?,
        None => Utc::now().naive_utc(),
    };
    kwargs.assert_all_used()?;
    let seconds = (now - then).num_seconds().max(0);
    let units = [
        ("year", 365 * 24 * 3600),
        ("month", 30 * 24 * 3600),
        ("week", 7 * 24 * 3600),
        ("day", 24 * 3600),
        ("hour", 3600),
        ("minute", 60),
    ];
    let mut parts = Vec::new();
    let mut rest = seconds;
    for (name, size) in units {
        let count = rest / size;
        if count > 0 || !parts.is_empty() {
            if count > 0 {
                parts.push(format!(
                    "{count} {name}{}",
                    if count == 1 { "" } else { "s" }
                ));
            }
            rest -= count * size;
            if parts.len() == 2 || (!parts.is_empty() && count == 0) {
                break;
            }
        }
    }
    Ok(if parts.is_empty() {
        "0 minutes".to_owned()
    } else {
        parts.join(", ")
    })
}
