//! Named routes and `reverse`: from `"polls:detail"` and arguments to a path.
//!
//! ```
//! # use estate::prelude::*;
//! # async fn demo(urls: Urls) -> estate::Result<()> {
//! let path = urls.reverse("polls:detail", (7,))?;             // "/polls/7/"
//! let path = urls.reverse_kwargs("polls:detail", [("id", 7)])?; // by name
//! # Ok(()) }
//! ```
//!
//! Arguments are percent-encoded, so a value can never change which route
//! the path leads to (`a/b` becomes `a%2Fb` except in a `{*rest}` wildcard).

use std::collections::HashMap;
use std::fmt::{self, Display};
use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::context::AppContext;
use crate::suggest::closest as closest_name;

/// Characters escaped in a path segment: everything but RFC 3986 unreserved
/// characters and a few sub-delimiters that are safe in paths.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');
/// One path segment percent-encoded (`a b` → `a%20b`; `/` encoded too).
pub(crate) fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// A wildcard keeps its slashes.
const WILDCARD: &AsciiSet = &SEGMENT.remove(b'/');

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Param(String),
    Wildcard(String),
}

/// A route's path pattern, parsed from axum's syntax (`/polls/{id}/`, `/{*rest}`).
#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    path: String,
    pieces: Vec<Piece>,
}

impl Pattern {
    pub(crate) fn parse(path: &str) -> Pattern {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = path.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    match name.strip_prefix('*') {
                        Some(rest) => pieces.push(Piece::Wildcard(rest.to_owned())),
                        None => pieces.push(Piece::Param(name)),
                    }
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Pattern {
            path: path.to_owned(),
            pieces,
        }
    }

    fn params(&self) -> Vec<&str> {
        self.pieces
            .iter()
            .filter_map(|piece| match piece {
                Piece::Param(name) | Piece::Wildcard(name) => Some(name.as_str()),
                Piece::Literal(_) => None,
            })
            .collect()
    }
}

/// Positional or named arguments for [`Urls::reverse`].
#[derive(Clone, Debug, Default)]
pub struct UrlArgs(Vec<String>);

/// Types usable as positional `reverse` arguments: `()`, tuples of up to six
/// `Display` values, arrays, slices and vectors of one `Display` type.
pub trait IntoUrlArgs {
    /// The arguments as text, in order.
    fn into_url_args(self) -> UrlArgs;
}

impl IntoUrlArgs for () {
    fn into_url_args(self) -> UrlArgs {
        UrlArgs(Vec::new())
    }
}

impl IntoUrlArgs for UrlArgs {
    fn into_url_args(self) -> UrlArgs {
        self
    }
}

impl<T: Display, const N: usize> IntoUrlArgs for [T; N] {
    fn into_url_args(self) -> UrlArgs {
        UrlArgs(self.iter().map(ToString::to_string).collect())
    }
}

impl<T: Display> IntoUrlArgs for &[T] {
    fn into_url_args(self) -> UrlArgs {
        UrlArgs(self.iter().map(ToString::to_string).collect())
    }
}

impl<T: Display> IntoUrlArgs for Vec<T> {
    fn into_url_args(self) -> UrlArgs {
        UrlArgs(self.iter().map(ToString::to_string).collect())
    }
}

macro_rules! tuple_args {
    ($(($($name:ident),+)),*) => {$(
        impl<$($name: Display),+> IntoUrlArgs for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_url_args(self) -> UrlArgs {
                let ($($name,)+) = self;
                UrlArgs(vec![$($name.to_string()),+])
            }
        }
    )*};
}
tuple_args!(
    (A),
    (A, B),
    (A, B, C),
    (A, B, C, D),
    (A, B, C, D, E),
    (A, B, C, D, E, F)
);

/// Why a route could not be reversed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReverseError {
    /// No route has this name.
    NoSuchRoute {
        /// The name asked for.
        name: String,
        /// The closest existing name.
        suggestion: Option<String>,
    },
    /// The arguments do not fit the route's parameters.
    WrongArguments {
        /// The route name.
        name: String,
        /// Its path pattern.
        pattern: String,
        /// What is wrong.
        problem: String,
    },
}

impl Display for ReverseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReverseError::NoSuchRoute { name, suggestion } => {
                write!(f, "reverse: no route is named `{name}`")?;
                match suggestion {
                    Some(s) => write!(f, "; did you mean `{s}`?"),
                    None => f.write_str(
                        "; name it with `.name(\"...\")` on the route, and use `app:name` \
                         for routes of an app",
                    ),
                }
            }
            ReverseError::WrongArguments {
                name,
                pattern,
                problem,
            } => write!(f, "reverse: route `{name}` ({pattern}) {problem}"),
        }
    }
}

impl std::error::Error for ReverseError {}

/// Every named route of an app, for reversing names into paths.
#[derive(Debug, Default)]
pub struct UrlTable {
    names: HashMap<String, Pattern>,
}

impl UrlTable {
    /// Records a named route; a second route with the same full name is an error.
    pub(crate) fn insert(&mut self, name: String, path: &str) -> Result<(), String> {
        if let Some(existing) = self.names.get(&name) {
            return Err(format!(
                "two routes are named `{name}`: {} and {path}; route names must be unique \
                 within their app",
                existing.path
            ));
        }
        self.names.insert(name, Pattern::parse(path));
        Ok(())
    }

    /// The path pattern of a named route.
    pub fn pattern(&self, name: &str) -> Option<&str> {
        self.names.get(name).map(|p| p.path.as_str())
    }

    /// Every route name, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.names.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    fn lookup(&self, name: &str) -> Result<&Pattern, ReverseError> {
        self.names
            .get(name)
            .ok_or_else(|| ReverseError::NoSuchRoute {
                name: name.to_owned(),
                suggestion: closest_name(name, self.names.keys().map(String::as_str)),
            })
    }

    /// The path of route `name` with positional arguments filled in order.
    pub fn reverse(&self, name: &str, args: impl IntoUrlArgs) -> Result<String, ReverseError> {
        let pattern = self.lookup(name)?;
        let args = args.into_url_args().0;
        let params = pattern.params();
        if args.len() != params.len() {
            return Err(ReverseError::WrongArguments {
                name: name.to_owned(),
                pattern: pattern.path.clone(),
                problem: format!(
                    "takes {} argument{} ({}), but {} {} given: ({})",
                    params.len(),
                    if params.len() == 1 { "" } else { "s" },
                    params.join(", "),
                    args.len(),
                    if args.len() == 1 { "was" } else { "were" },
                    args.join(", ")
                ),
            });
        }
        fill(name, pattern, |index, _| &args[index])
    }

    /// The path of route `name` with arguments given by parameter name.
    pub fn reverse_kwargs<K: AsRef<str>, V: Display>(
        &self,
        name: &str,
        kwargs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<String, ReverseError> {
        let pattern = self.lookup(name)?;
        let given: HashMap<String, String> = kwargs
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_owned(), v.to_string()))
            .collect();
        let params = pattern.params();
        let mut missing: Vec<&str> = params
            .iter()
            .copied()
            .filter(|p| !given.contains_key(*p))
            .collect();
        let mut unknown: Vec<&str> = given
            .keys()
            .map(String::as_str)
            .filter(|k| !params.contains(k))
            .collect();
        if !missing.is_empty() || !unknown.is_empty() {
            missing.sort_unstable();
            unknown.sort_unstable();
            let mut problems = Vec::new();
            if !missing.is_empty() {
                problems.push(format!("needs {}", missing.join(", ")));
            }
            if !unknown.is_empty() {
                problems.push(format!("has no parameter {}", unknown.join(", ")));
            }
            return Err(ReverseError::WrongArguments {
                name: name.to_owned(),
                pattern: pattern.path.clone(),
                problem: format!(
                    "{} (its parameters: {})",
                    problems.join(" and "),
                    params.join(", ")
                ),
            });
        }
        fill(name, pattern, |_, param| &given[param])
    }
}

fn fill<'a>(
    name: &str,
    pattern: &Pattern,
    value_of: impl Fn(usize, &str) -> &'a String,
) -> Result<String, ReverseError> {
    let mut out = String::with_capacity(pattern.path.len() + 16);
    let mut index = 0;
    for piece in &pattern.pieces {
        match piece {
            Piece::Literal(text) => out.push_str(text),
            Piece::Param(param) | Piece::Wildcard(param) => {
                let value = value_of(index, param);
                index += 1;
                if value.is_empty() {
                    return Err(ReverseError::WrongArguments {
                        name: name.to_owned(),
                        pattern: pattern.path.clone(),
                        problem: format!("got an empty value for `{param}`"),
                    });
                }
                let set = if matches!(piece, Piece::Wildcard(_)) {
                    WILDCARD
                } else {
                    SEGMENT
                };
                out.extend(utf8_percent_encode(value, set));
            }
        }
    }
    Ok(out)
}

/// Extractor for reversing route names inside a handler.
///
/// ```
/// # use estate::prelude::*;
/// async fn index(urls: Urls) -> estate::Result<Redirect> {
///     Ok(Redirect::to(&urls.reverse("polls:index", ())?))
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Urls(pub(crate) Arc<UrlTable>);

impl Urls {
    /// See [`UrlTable::reverse`].
    pub fn reverse(&self, name: &str, args: impl IntoUrlArgs) -> Result<String, ReverseError> {
        self.0.reverse(name, args)
    }

    /// See [`UrlTable::reverse_kwargs`].
    pub fn reverse_kwargs<K: AsRef<str>, V: Display>(
        &self,
        name: &str,
        kwargs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<String, ReverseError> {
        self.0.reverse_kwargs(name, kwargs)
    }

    /// The whole table.
    pub fn table(&self) -> &UrlTable {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Urls {
    type Rejection = crate::Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let context = AppContext::from_request_parts(parts, state).await?;
        Ok(context.urls())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> UrlTable {
        let mut table = UrlTable::default();
        table.insert("polls:detail".into(), "/polls/{id}/").unwrap();
        table
            .insert("polls:vote".into(), "/polls/{id}/vote/{choice}")
            .unwrap();
        table.insert("files".into(), "/files/{*path}").unwrap();
        table.insert("index".into(), "/").unwrap();
        table
    }

    #[test]
    fn positional_and_named_arguments() {
        let t = table();
        assert_eq!(t.reverse("index", ()).unwrap(), "/");
        assert_eq!(t.reverse("polls:detail", (7,)).unwrap(), "/polls/7/");
        assert_eq!(t.reverse("polls:vote", [3, 9]).unwrap(), "/polls/3/vote/9");
        assert_eq!(
            t.reverse_kwargs("polls:vote", [("choice", 9), ("id", 3)])
                .unwrap(),
            "/polls/3/vote/9"
        );
    }

    #[test]
    fn arguments_are_escaped_so_they_stay_in_their_segment() {
        let t = table();
        assert_eq!(
            t.reverse("polls:detail", ("a/b c?",)).unwrap(),
            "/polls/a%2Fb%20c%3F/"
        );
        assert_eq!(
            t.reverse("files", ("css/site.css",)).unwrap(),
            "/files/css/site.css"
        );
        assert_eq!(
            t.reverse("polls:detail", ("héllo",)).unwrap(),
            "/polls/h%C3%A9llo/"
        );
    }

    #[test]
    fn unknown_names_suggest_the_closest() {
        let err = table().reverse("polls:detial", (1,)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "reverse: no route is named `polls:detial`; did you mean `polls:detail`?"
        );
    }

    #[test]
    fn wrong_arguments_name_the_route_and_its_parameters() {
        let err = table().reverse("polls:detail", (1, 2)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "reverse: route `polls:detail` (/polls/{id}/) takes 1 argument (id), but 2 were given: (1, 2)"
        );
        let err = table()
            .reverse_kwargs("polls:vote", [("id", 1), ("choise", 2)])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "reverse: route `polls:vote` (/polls/{id}/vote/{choice}) needs choice and has no \
             parameter choise (its parameters: id, choice)"
        );
        let err = table().reverse("polls:detail", ("",)).unwrap_err();
        assert!(err.to_string().contains("empty value for `id`"));
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let mut t = table();
        let err = t.insert("polls:detail".into(), "/other/{id}").unwrap_err();
        assert!(err.contains("two routes are named `polls:detail`"), "{err}");
    }

    #[test]
    fn escaped_braces_are_literal() {
        let mut t = UrlTable::default();
        t.insert("x".into(), "/a{{b}}/{id}").unwrap();
        assert_eq!(t.reverse("x", (1,)).unwrap(), "/a{b}/1");
    }
}
