//! Untyped settings layered from their sources, with the origin of each value.
//!
//! Later layers override earlier ones: code, then the settings file, then the
//! environment. Values are kept under dotted keys (`limits.max_body_size`) so
//! the typed loader can take them one by one and report whatever is left over
//! as unknown.

use std::collections::BTreeMap;
use std::path::Path;

use super::error::{SettingsError, Source};
use super::values::env_value;

/// Environment variables starting with these prefixes are not settings.
const NON_SETTING_ENV_PREFIXES: &[&str] = &[
    "ESTATE_TEST_",
    "ESTATE_SETTINGS_FILE",
    // createsuperuser --noinput reads these (Django's DJANGO_SUPERUSER_*).
    "ESTATE_SUPERUSER_",
];

/// One raw value and where it came from.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) value: toml::Value,
    pub(crate) source: Source,
}

/// Settings as layered from their sources, before typing.
#[derive(Clone, Debug, Default)]
pub(crate) struct RawSettings {
    entries: BTreeMap<String, Entry>,
}

impl RawSettings {
    /// Sets one dotted key from a given source, replacing an earlier layer.
    pub(crate) fn set(&mut self, key: &str, value: toml::Value, source: Source) {
        // A table assigned in code (or the env) is flattened like a file's.
        if let toml::Value::Table(table) = value {
            self.merge_table(key, table, &source);
        } else {
            self.entries.insert(key.to_owned(), Entry { value, source });
        }
    }

    /// Layers a TOML document read from `path` over the current values.
    pub(crate) fn merge_file(&mut self, path: &Path, text: &str) -> Result<(), SettingsError> {
        let table: toml::Table =
            text.parse()
                .map_err(|err: toml::de::Error| SettingsError::Parse {
                    path: path.to_owned(),
                    message: err.to_string().trim_end().to_owned(),
                })?;
        self.merge_table("", table, &Source::File(path.to_owned()));
        Ok(())
    }

    fn merge_table(&mut self, prefix: &str, table: toml::Table, source: &Source) {
        for (key, value) in table {
            let dotted = if prefix.is_empty() {
                key
            } else {
                format!("{prefix}.{key}")
            };
            match value {
                toml::Value::Table(inner) => self.merge_table(&dotted, inner, source),
                value => {
                    self.entries.insert(
                        dotted,
                        Entry {
                            value,
                            source: source.clone(),
                        },
                    );
                }
            }
        }
    }

    /// Layers environment variables: `ESTATE_DEBUG` sets `debug`,
    /// `ESTATE_LIMITS__MAX_BODY_SIZE` sets `limits.max_body_size` (a double
    /// underscore separates sections), and the conventional unprefixed
    /// `DATABASE_URL` sets `database_url` unless `ESTATE_DATABASE_URL` is given.
    pub(crate) fn merge_env(&mut self, vars: impl IntoIterator<Item = (String, String)>) {
        let mut database_url = None;
        let mut prefixed_database_url = false;
        for (name, text) in vars {
            prefixed_database_url |= name == "ESTATE_DATABASE_URL";
            if name == "DATABASE_URL" {
                database_url = Some(text);
                continue;
            }
            let Some(rest) = name.strip_prefix("ESTATE_") else {
                continue;
            };
            if NON_SETTING_ENV_PREFIXES.iter().any(|p| name.starts_with(p)) || rest.is_empty() {
                continue;
            }
            let key = rest.to_ascii_lowercase().replace("__", ".");
            self.entries.insert(
                key,
                Entry {
                    value: env_value(&text),
                    source: Source::Env(name.clone()),
                },
            );
        }
        if let (Some(url), false) = (database_url, prefixed_database_url) {
            self.entries.insert(
                "database_url".to_owned(),
                Entry {
                    value: toml::Value::String(url),
                    source: Source::Env("DATABASE_URL".to_owned()),
                },
            );
        }
    }

    /// Removes and returns one key.
    pub(crate) fn take(&mut self, key: &str) -> Option<Entry> {
        self.entries.remove(key)
    }

    /// Removes every key under `section.` and rebuilds them as a table, with
    /// the source of each dotted key.
    pub(crate) fn take_section(
        &mut self,
        section: &str,
    ) -> (toml::Table, BTreeMap<String, Source>) {
        let prefix = format!("{section}.");
        let keys: Vec<String> = self
            .entries
            .keys()
            .filter(|key| key.starts_with(&prefix))
            .cloned()
            .collect();
        let mut table = toml::Table::new();
        let mut sources = BTreeMap::new();
        for key in keys {
            let entry = self.entries.remove(&key).expect("key listed above");
            let path: Vec<&str> = key[prefix.len()..].split('.').collect();
            insert_path(&mut table, &path, entry.value);
            sources.insert(key, entry.source);
        }
        (table, sources)
    }

    /// Every key with its entry, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.entries.iter()
    }

    /// What no part of the project consumed.
    pub(crate) fn into_leftovers(self) -> impl Iterator<Item = (String, Entry)> {
        self.entries.into_iter()
    }
}

fn insert_path(table: &mut toml::Table, path: &[&str], value: toml::Value) {
    match path {
        [] => {}
        [last] => {
            table.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            let child = table
                .entry((*first).to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !child.is_table() {
                *child = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(child) = child {
                insert_path(child, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_and_keeps_its_origin() {
        let mut raw = RawSettings::default();
        raw.merge_file(
            Path::new("estate.toml"),
            "debug = false\n[limits]\nmax_body_size = \"1MB\"\n",
        )
        .unwrap();
        raw.merge_env([
            ("ESTATE_LIMITS__MAX_BODY_SIZE".to_owned(), "5MB".to_owned()),
            ("ESTATE_TEST_POSTGRES".to_owned(), "postgres://x".to_owned()),
            ("HOME".to_owned(), "/root".to_owned()),
        ]);
        let entry = raw.take("limits.max_body_size").unwrap();
        assert_eq!(entry.value.as_str(), Some("5MB"));
        assert_eq!(
            entry.source,
            Source::Env("ESTATE_LIMITS__MAX_BODY_SIZE".into())
        );
        assert_eq!(raw.take("debug").unwrap().value.as_bool(), Some(false));
        assert_eq!(
            raw.into_leftovers().count(),
            0,
            "ESTATE_TEST_* is not a setting"
        );
    }

    #[test]
    fn prefixed_database_url_wins_over_the_conventional_one() {
        let mut raw = RawSettings::default();
        raw.merge_env([
            ("DATABASE_URL".to_owned(), "sqlite://a".to_owned()),
            ("ESTATE_DATABASE_URL".to_owned(), "sqlite://b".to_owned()),
        ]);
        assert_eq!(
            raw.take("database_url").unwrap().value.as_str(),
            Some("sqlite://b")
        );
    }

    #[test]
    fn sections_are_rebuilt_as_tables() {
        let mut raw = RawSettings::default();
        raw.merge_file(
            Path::new("estate.toml"),
            "[polls]\npage_size = 10\n[polls.feed]\ntitle = \"x\"\n",
        )
        .unwrap();
        let (table, sources) = raw.take_section("polls");
        assert_eq!(table["page_size"].as_integer(), Some(10));
        assert_eq!(table["feed"]["title"].as_str(), Some("x"));
        assert!(sources.contains_key("polls.feed.title"));
    }

    #[test]
    fn bad_toml_names_the_file_and_line() {
        let mut raw = RawSettings::default();
        let err = raw
            .merge_file(
                Path::new("conf/estate.toml"),
                "debug = true\nallowed_hosts = [\n",
            )
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("conf/estate.toml"), "{text}");
        assert!(text.contains("line"), "{text}");
    }
}
