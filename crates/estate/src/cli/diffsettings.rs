//! `diffsettings`: the effective settings that differ from Estate's
//! defaults, one `key = value` line each (TOML, ready to paste into
//! `estate.toml`), sorted by key; `--all` shows every setting. Secrets are
//! masked: keys, passwords (also inside database URLs), tokens.
//!
//! The settings are read generically, through their `Serialize` form,
//! compared with the settings Estate builds from no sources at all.

use std::collections::BTreeMap;
use std::io::Write;

use clap::{Arg, ArgAction};
use serde_json::Value as Json;

use super::command::{CommandContext, ManagementCommand};
use crate::error::{Error, Result};
use crate::settings::{Settings, SettingsLoader, Source};

pub(crate) fn command() -> ManagementCommand {
    ManagementCommand::new(
        "diffsettings",
        "Show the settings that differ from Estate's defaults (--all: every setting), secrets masked",
        |ctx: CommandContext| async move {
            let text = report(ctx.app.settings(), ctx.args.get_flag("all"))?;
            write!(ctx.out(), "{text}")?;
            Ok(())
        },
    )
    .arg(
        Arg::new("all")
            .long("all")
            .action(ArgAction::SetTrue)
            .help("Show every setting, defaults included"),
    )
}

/// What a masked value shows.
const MASK: &str = "****";

/// Parts of key names that mark a secret (Django's list of hidden settings).
const SECRET_WORDS: &[&str] = &["secret", "pass", "key", "token", "api", "signature"];

/// The report's lines.
fn report(settings: &Settings, all: bool) -> Result<String> {
    let current = flatten(to_json(settings)?);
    let defaults = flatten(to_json(&defaults(settings)?)?);
    let mut lines: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in current {
        let differs = if key == "debug" {
            // The defaults below are built with the project's DEBUG (other
            // defaults follow it); DEBUG's own default is off.
            value != Json::Bool(false)
        } else if value == Json::String(MASK.to_owned()) {
            // A secret compares by whether it was set, not by its value.
            is_explicit(&settings.source_of(&key))
        } else {
            defaults.get(&key) != Some(&value)
        };
        if all || differs {
            lines.insert(key.clone(), line(&key, &value));
        }
    }
    // Apps' sections hold only what was set (their defaults live in their
    // types): all of it differs.
    for (key, value) in &settings.app_values {
        let json = serde_json::to_value(value)
            .map_err(|err| Error::msg(format!("diffsettings: {key}: {err}")))?;
        lines.insert(key.clone(), line(key, &json));
    }
    Ok(lines.into_values().collect())
}

fn to_json(settings: &Settings) -> Result<Json> {
    serde_json::to_value(settings)
        .map_err(|err| Error::msg(format!("diffsettings: cannot read the settings: {err}")))
}

/// Estate's defaults for a project with this DEBUG (several defaults follow
/// it: access log, query log, mail backend).
fn defaults(settings: &Settings) -> Result<Settings> {
    let mut loader = SettingsLoader::new().set("debug", settings.debug);
    if !settings.debug {
        loader = loader.set("secret_key", "only-to-build-the-defaults");
    }
    loader
        .load()
        .map_err(|err| Error::msg(format!("diffsettings: cannot build the defaults: {err}")))
}

fn is_explicit(source: &Source) -> bool {
    matches!(source, Source::Code | Source::File(_) | Source::Env(_))
}

/// Nested sections become dotted keys: `limits.max_body_size`.
fn flatten(json: Json) -> BTreeMap<String, Json> {
    fn walk(prefix: &str, json: Json, out: &mut BTreeMap<String, Json>) {
        match json {
            Json::Object(map) => {
                for (key, value) in map {
                    let dotted = if prefix.is_empty() {
                        key
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(&dotted, value, out);
                }
            }
            other => {
                out.insert(prefix.to_owned(), other);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", json, &mut out);
    out
}

/// `key = value\n`; an unset value becomes a comment.
fn line(key: &str, value: &Json) -> String {
    if value.is_null() {
        return format!("# {key} is not set\n");
    }
    let secret = {
        let lower = key.to_ascii_lowercase();
        SECRET_WORDS.iter().any(|word| lower.contains(word))
    };
    format!("{key} = {}\n", toml_text(value, secret))
}

/// A value in TOML syntax, masked when secret; a URL's password is masked
/// always.
fn toml_text(value: &Json, secret: bool) -> String {
    match value {
        Json::Null => "\"\"".to_owned(),
        Json::String(text) if secret && !text.is_empty() => quoted(MASK),
        Json::String(text) => quoted(&estate_orm::backends::redact(text)),
        Json::Array(items) => {
            let items: Vec<String> = items.iter().map(|i| toml_text(i, secret)).collect();
            format!("[{}]", items.join(", "))
        }
        Json::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} = {}", quoted(k), toml_text(v, secret)))
                .collect();
            format!("{{ {} }}", entries.join(", "))
        }
        _ if secret => quoted(MASK),
        other => other.to_string(),
    }
}

fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(loader: SettingsLoader) -> Settings {
        loader.load().expect("valid test settings")
    }

    #[test]
    fn shows_what_differs_with_secrets_masked() {
        let text = report(
            &settings(
                SettingsLoader::new()
                    .set("secret_key", "k8F2pQ9vX7mN4rT6wY1zA3bC5dE0gH2jL4nP6sU8")
                    .set("database_url", "postgres://app:hunter2@db/site")
                    .set("allowed_hosts", vec!["example.com"])
                    .set("limits.request_timeout", "45s"),
            ),
            false,
        )
        .unwrap();
        assert_eq!(
            text,
            "allowed_hosts = [\"example.com\"]\n\
             database_url = \"postgres://app:****@db/site\"\n\
             limits.request_timeout = \"45s\"\n\
             secret_key = \"****\"\n"
        );
        assert!(
            !text.contains("hunter2") && !text.contains("k8F2"),
            "{text}"
        );
    }

    #[test]
    fn debug_follows_its_own_default_and_all_shows_everything() {
        let debug = settings(SettingsLoader::new().set("debug", true));
        // A generated key and the DEBUG-derived defaults are no difference.
        assert_eq!(report(&debug, false).unwrap(), "debug = true\n");
        let all = report(&debug, true).unwrap();
        assert!(all.contains("server.addr = \"127.0.0.1:8000\"\n"), "{all}");
        assert!(all.contains("secret_key = \"****\"\n"), "{all}");
        assert!(all.contains("# database_url is not set\n"), "{all}");
        assert!(all.contains("logging.access_log = true\n"), "{all}");
    }
}
