//! Where templates come from: folders on disk, and copies embedded in the
//! binary by [`templates!`](macro@crate::templates).

use std::path::{Component, Path, PathBuf};

/// A place templates are found: a folder, and optionally its files embedded
/// at build time (`estate::templates!("templates")`).
#[derive(Clone, Debug)]
pub struct TemplateSource {
    /// The folder, absolute.
    pub dir: PathBuf,
    /// Its files as (name, contents), embedded in the binary.
    pub embedded: &'static [(&'static str, &'static str)],
}

impl TemplateSource {
    /// Estate's own templates (`estate/pagination.html`, ...), always
    /// embedded; searched last, so a project can override them.
    pub fn builtin() -> Self {
        TemplateSource {
            dir: PathBuf::new(),
            embedded: estate_macros::embed_dir!("templates"),
        }
    }

    /// A folder read from disk only.
    pub fn dir(dir: impl Into<PathBuf>) -> Self {
        TemplateSource {
            dir: dir.into(),
            embedded: &[],
        }
    }
}

/// A template name as a relative path inside a folder, or `None` for names
/// that would leave it (`..`, absolute paths).
fn relative(name: &str) -> Option<PathBuf> {
    let path = Path::new(name);
    path.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| path.to_path_buf())
}

/// The source of template `name`: the first source that has it. From disk
/// first when `from_disk` (DEBUG), else from the embedded copies first.
pub(crate) fn load(
    sources: &[TemplateSource],
    name: &str,
    from_disk: bool,
) -> Result<Option<String>, minijinja::Error> {
    let Some(relative) = relative(name) else {
        return Ok(None);
    };
    for source in sources {
        let embedded = || {
            source
                .embedded
                .iter()
                .find(|(embedded, _)| *embedded == name)
                .map(|(_, contents)| (*contents).to_owned())
        };
        let on_disk = || -> Result<Option<String>, minijinja::Error> {
            if source.dir.as_os_str().is_empty() {
                // Embedded only (Estate's own templates).
                return Ok(None);
            }
            match std::fs::read_to_string(source.dir.join(&relative)) {
                Ok(text) => Ok(Some(text)),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(err) => Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!(
                        "cannot read template {}: {err}",
                        source.dir.join(&relative).display()
                    ),
                )),
            }
        };
        let found = if from_disk {
            match on_disk()? {
                Some(text) => Some(text),
                None => embedded(),
            }
        } else {
            match embedded() {
                Some(text) => Some(text),
                None => on_disk()?,
            }
        };
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_leave_the_folder() {
        assert!(relative("polls/index.html").is_some());
        assert!(relative("../secret.html").is_none());
        assert!(relative("/etc/passwd").is_none());
        assert!(relative("polls/../../x").is_none());
    }
}
