//! Which names a project or an app may have, and the message when one
//! cannot be used.

/// Rust's keywords, strict and reserved: none can name a crate or module.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Crates a project depends on or Rust provides: a project of that name
/// would shadow them.
const TAKEN_CRATES: &[&str] = &[
    "estate",
    "serde",
    "tokio",
    "std",
    "core",
    "alloc",
    "proc_macro",
    "test",
];

/// Apps every project has already.
const TAKEN_APPS: &[&str] = &[
    "admin", "auth", "sessions", "messages", "estate", "main", "test",
];

/// Checks a project name: a crate name (letters, digits, `_`, `-`, starting
/// with a letter), not a keyword or a crate it would shadow.
pub(crate) fn check_project(name: &str) -> Result<(), String> {
    check_shape(name, "project", true)?;
    if TAKEN_CRATES.contains(&name.replace('-', "_").as_str()) {
        return Err(format!(
            "`{name}` is the name of a crate every Estate project uses; choose another \
             project name, e.g. `{name}_site`"
        ));
    }
    // Cargo refuses binaries named like the folders of its target folder.
    if ["build", "deps", "examples", "incremental"].contains(&name) {
        return Err(format!(
            "`{name}` is a folder name cargo keeps for itself, so a binary cannot have it; \
             choose another project name, e.g. `{name}_site`"
        ));
    }
    Ok(())
}

/// Checks an app name: a Rust module name (lowercase letters, digits and
/// `_`, starting with a letter), not a keyword or a built-in app.
pub(crate) fn check_app(name: &str) -> Result<(), String> {
    check_shape(name, "app", false)?;
    if TAKEN_APPS.contains(&name) {
        return Err(format!(
            "`{name}` is taken by a built-in app or module; choose another name, e.g. \
             `{name}s` or `my_{name}`"
        ));
    }
    Ok(())
}

fn check_shape(name: &str, what: &str, hyphens: bool) -> Result<(), String> {
    let allowed = |c: char| {
        c.is_ascii_digit()
            || c == '_'
            || (hyphens && c == '-')
            || if hyphens {
                c.is_ascii_alphabetic()
            } else {
                c.is_ascii_lowercase()
            }
    };
    let rule = if hyphens {
        "letters, digits, `_` and `-`, starting with a letter"
    } else {
        "lowercase letters, digits and `_`, starting with a letter"
    };
    if name.is_empty() {
        return Err(format!("the {what} needs a name: {rule}"));
    }
    if name.len() > 64 {
        return Err(format!(
            "`{name}` is too long for a {what} name (at most 64 characters)"
        ));
    }
    if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "`{name}` cannot name a{} {what}: `{bad}` is not allowed; use {rule}, e.g. `{}`",
            if what == "app" { "n" } else { "" },
            suggestion(name, hyphens)
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(format!(
            "`{name}` cannot name a {what}: it must start with a letter"
        ));
    }
    if KEYWORDS.contains(&name) {
        return Err(format!(
            "`{name}` is a Rust keyword, so it cannot name a {what}; try `{name}_{what}`"
        ));
    }
    Ok(())
}

/// The name with what is not allowed replaced (`my-site!` → `my_site`).
fn suggestion(name: &str, hyphens: bool) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = if hyphens { c } else { c.to_ascii_lowercase() };
        if c.is_ascii_alphanumeric() || c == '_' || (hyphens && c == '-') {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_owned();
    match out.chars().next() {
        Some(first) if first.is_ascii_alphabetic() => out,
        Some(_) => format!("site_{out}"),
        None => "mysite".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names_pass() {
        for name in ["mysite", "my_site", "my-site", "Site2"] {
            assert_eq!(check_project(name), Ok(()), "{name}");
        }
        for name in ["polls", "blog_posts", "shop2"] {
            assert_eq!(check_app(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn bad_names_say_why_and_suggest_one() {
        let err = check_project("my-site!").unwrap_err();
        assert!(
            err.contains("`!` is not allowed") && err.contains("`my-site`"),
            "{err}"
        );
        let err = check_project("fn").unwrap_err();
        assert!(err.contains("Rust keyword"), "{err}");
        let err = check_project("2cool").unwrap_err();
        assert!(err.contains("start with a letter"), "{err}");
        let err = check_project("deps").unwrap_err();
        assert!(err.contains("cargo keeps for itself"), "{err}");
        let err = check_project("estate").unwrap_err();
        assert!(err.contains("crate every Estate project uses"), "{err}");
        let err = check_app("Blog").unwrap_err();
        assert!(
            err.contains("`B` is not allowed") && err.contains("`blog`"),
            "{err}"
        );
        let err = check_app("my-app").unwrap_err();
        assert!(err.contains("`my_app`"), "{err}");
        let err = check_app("auth").unwrap_err();
        assert!(err.contains("built-in app"), "{err}");
        let err = check_app("match").unwrap_err();
        assert!(err.contains("Rust keyword"), "{err}");
        assert!(check_app("").unwrap_err().contains("needs a name"));
    }
}
