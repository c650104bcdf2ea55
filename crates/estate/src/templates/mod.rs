//! Templates: minijinja (Jinja2 syntax, close to Django's), loaded at run
//! time so a project overrides an app's template by putting its own file at
//! the same name.
//!
//! A template name is looked up in the project's `templates/` folder first,
//! then in each app's, in app order (so `templates/admin/base.html` in the
//! project wins over the admin's). `.html`, `.htm` and `.xml` templates
//! escape every value unless it is marked `|safe`. In DEBUG, templates are
//! read from disk on every render (edit, reload the page); otherwise they
//! come from the copies embedded in the binary with
//! [`templates!`](macro@crate::templates), falling back to disk.
//!
//! ```ignore
//! async fn index(templates: Templates) -> estate::Result<Html<String>> {
//!     templates.render("polls/index.html", context! { questions => latest })
//! }
//! // or, as a response rendered on the way out with the request's context:
//! async fn detail() -> Template {
//!     Template::render("polls/detail.html", context! { id => 3 })
//! }
//! ```

mod filters;
mod processors;
mod source;

use std::sync::{Arc, RwLock};

use axum::extract::FromRequestParts;
use axum::response::{Html, IntoResponse, Response};
use http::request::Parts;
use minijinja::value::{Rest, Value};
use minijinja::{AutoEscape, Environment};

pub use crate::__estate_context as context;
#[doc(hidden)]
pub use minijinja::Value as ContextValue;
#[doc(hidden)]
pub use minijinja::value::Serde as ContextSerde;

/// `context! { questions, page => 2 }`: a template context from any serde
/// values (a `Vec` of models, a `Page`, a form...). Like minijinja's macro,
/// but values need only `Serialize`; `key` alone means `key => key`.
#[doc(hidden)]
#[macro_export]
macro_rules! __estate_context {
    () => {
        $crate::templates::ContextValue::from(
            ::std::collections::BTreeMap::<::std::string::String, $crate::templates::ContextValue>::new(),
        )
    };
    ($($key:ident $(=> $value:expr)?),+ $(,)?) => {{
        let mut map = ::std::collections::BTreeMap::<
            ::std::string::String,
            $crate::templates::ContextValue,
        >::new();
        $(
            $crate::__estate_context!(@insert map, $key $(=> $value)?);
        )+
        $crate::templates::ContextValue::from(map)
    }};
    (@insert $map:ident, $key:ident) => {
        $crate::__estate_context!(@insert $map, $key => $key)
    };
    (@insert $map:ident, $key:ident => $value:expr) => {
        $map.insert(
            ::std::string::String::from(stringify!($key)),
            $crate::templates::ContextValue::from($crate::templates::ContextSerde(&$value)),
        );
    };
}
pub(crate) use processors::{AppProcessors, ContextProcessors};
pub use processors::{ContextProcessor, ExtraContext, RequestHead};
pub use source::TemplateSource;

/// HTML-escapes `& < > " '` (Django's `escape`), for HTML built in Rust.
pub fn escape_html(text: &str) -> String {
    filters::escape(text)
}

use crate::context::AppContext;
use crate::error::Error;
use crate::routing::Urls;

/// The template engine of an app: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Templates(Arc<Inner>);

struct Inner {
    env: RwLock<Environment<'static>>,
    /// Read templates from disk on every render (DEBUG).
    reload: bool,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("reload", &self.0.reload)
            .finish()
    }
}

impl Templates {
    /// An engine searching `sources` in order (the project's first, then
    /// the apps'); `reload` reads from disk on every render; `urls` backs
    /// the `url()` function.
    pub(crate) fn new(
        sources: Vec<TemplateSource>,
        reload: bool,
        from_disk: bool,
        urls: Option<Urls>,
        static_url: String,
        static_names: std::collections::BTreeMap<String, String>,
        cache: Option<crate::cache::Cache>,
    ) -> Templates {
        let mut env = Environment::new();
        // Reloading (DEBUG) always reads the disk.
        let from_disk = from_disk || reload;
        env.set_loader(move |name| source::load(&sources, name, from_disk));
        env.set_auto_escape_callback(auto_escape);
        // Django's escaping (& < > " '), not minijinja's, which also
        // escapes `/` and would turn every URL into entities.
        env.set_formatter(|out, state, value| {
            // Forms, formsets and fields print their HTML.
            if value.as_object().is_some() {
                if let Some(html) = crate::forms::render_in_template(state, value) {
                    out.write_str(&html?)?;
                    return Ok(());
                }
            }
            if matches!(state.auto_escape(), AutoEscape::Html) && !value.is_safe() {
                // Escaped as it is written: no copy of the value.
                match value.as_str() {
                    Some(text) => filters::write_escaped(out, text)?,
                    None if value.is_undefined() => {}
                    // Integers (ids, counts: the most printed numbers)
                    // without the formatting machinery.
                    None if value.is_integer() => match value.as_i64() {
                        Some(number) => out.write_str(itoa::Buffer::new().format(number))?,
                        None => write!(out, "{value}")?,
                    },
                    // Numbers and booleans hold nothing to escape.
                    None if value.is_number()
                        || matches!(value.kind(), minijinja::value::ValueKind::Bool) =>
                    {
                        write!(out, "{value}")?;
                    }
                    None => {
                        use std::fmt::Write as _;
                        write!(filters::Escaping(out), "{value}")?;
                    }
                }
                Ok(())
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        filters::register(&mut env);
        // Shadowed by the request's nonce when there is one; otherwise says why.
        env.add_function("csp_nonce", || -> Result<Value, minijinja::Error> {
            Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                crate::http::csp::NO_NONCE,
            ))
        });
        env.add_function("csrf_input", |state: &minijinja::State<'_, '_>| {
            let token = state
                .lookup("csrf_token")
                .filter(|t| !t.is_none() && !t.is_undefined());
            match token {
                Some(token) => Ok(Value::from_safe_string(format!(
                    "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                    crate::http::csrf::FIELD_NAME,
                    filters::escape(&token.to_string())
                ))),
                None => Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    "csrf_input() needs `csrf_token` in the context: return a Template (which \
                     adds it), or take the CsrfToken extractor and pass it as csrf_token",
                )),
            }
        });
        env.add_function("static", move |path: String| {
            let path = path.trim_start_matches('/');
            // The hashed name collectstatic gave it, outside DEBUG.
            let path = static_names.get(path).map_or(path, String::as_str);
            let encoded: Vec<String> = path
                .split('/')
                .map(crate::routing::urls::encode_segment)
                .collect();
            format!("{static_url}{}", encoded.join("/"))
        });
        if let Some(urls) = urls {
            env.add_function("url", move |name: String, args: Rest<Value>| {
                let args: Vec<String> = args.iter().map(ToString::to_string).collect();
                urls.reverse(&name, args).map_err(|err| {
                    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, err.to_string())
                })
            });
        }
        // Fragment caching; tools and tests without an app get a cache of
        // their own.
        crate::cache::register_template_function(
            &mut env,
            cache.unwrap_or_else(crate::cache::Cache::memory),
        );
        Templates(Arc::new(Inner {
            env: RwLock::new(env),
            reload,
        }))
    }

    /// An engine over the given sources alone (for tests and tools).
    pub fn from_sources(sources: Vec<TemplateSource>, reload: bool) -> Templates {
        Templates::new(
            sources,
            reload,
            reload,
            None,
            "/static/".to_owned(),
            Default::default(),
            None,
        )
    }

    /// Renders template `name` with `context` (any serde value, or
    /// [`context!`]) to a string.
    ///
    /// # Errors
    /// A missing template or an error in it: a 500 whose cause names the
    /// template, the line and shows the source around it (visible on the
    /// DEBUG error page).
    pub fn render_to_string(
        &self,
        name: &str,
        context: impl serde::Serialize,
    ) -> Result<String, Error> {
        let context = Value::from(minijinja::value::Serde(&context));
        let rendered = if self.0.reload {
            // Fresh from disk: forget what was loaded before.
            let mut env = self.0.env.write().unwrap_or_else(|e| e.into_inner());
            env.clear_templates();
            env.get_template(name).and_then(|t| t.render(context))
        } else {
            let env = self.0.env.read().unwrap_or_else(|e| e.into_inner());
            env.get_template(name).and_then(|t| t.render(context))
        };
        rendered.map_err(template_error)
    }

    /// Renders only block `block` of template `name` (a partial, Django
    /// 6's "template partials"): for htmx-style updates of one fragment of a
    /// page that stays one template.
    ///
    /// # Errors
    /// As [`render_to_string`](Self::render_to_string), and a block the
    /// template does not have.
    pub fn render_block(
        &self,
        name: &str,
        block: &str,
        context: impl serde::Serialize,
    ) -> Result<String, Error> {
        let context = Value::from(minijinja::value::Serde(&context));
        let render = |env: &Environment<'static>| {
            let template = env.get_template(name)?;
            let mut rendered = template.render_captured(context)?;
            rendered.with_state_mut(|state| state.render_block(block))
        };
        let rendered = if self.0.reload {
            let mut env = self.0.env.write().unwrap_or_else(|e| e.into_inner());
            env.clear_templates();
            render(&env)
        } else {
            render(&self.0.env.read().unwrap_or_else(|e| e.into_inner()))
        };
        rendered.map_err(|err| {
            if err.kind() == minijinja::ErrorKind::UnknownBlock {
                Error::internal(format!("template `{name}` has no block `{block}`"))
            } else {
                template_error(err)
            }
        })
    }

    /// Renders template `name` as an HTML response body.
    ///
    /// # Errors
    /// As [`render_to_string`](Self::render_to_string).
    pub fn render(
        &self,
        name: &str,
        context: impl serde::Serialize,
    ) -> Result<Html<String>, Error> {
        self.render_to_string(name, context).map(Html)
    }
}

/// HTML escaping for every template except known plain-text kinds (`.txt`,
/// `.md`, `.csv`, `.eml`, `.ics`), judged without a trailing `.j2`/`.jinja`:
/// a template served as a page can never leave a value unescaped by its name.
fn auto_escape(name: &str) -> AutoEscape {
    let lower = name.to_ascii_lowercase();
    let base = lower
        .strip_suffix(".j2")
        .or_else(|| lower.strip_suffix(".jinja2"))
        .or_else(|| lower.strip_suffix(".jinja"))
        .unwrap_or(&lower);
    let plain = [".txt", ".text", ".md", ".csv", ".eml", ".ics"];
    if plain.iter().any(|ext| base.ends_with(ext)) {
        AutoEscape::None
    } else {
        AutoEscape::Html
    }
}

/// A template error as a 500 whose causes locate it.
fn template_error(err: minijinja::Error) -> Error {
    let place = match (err.name(), err.line()) {
        (Some(name), Some(line)) => format!("in template `{name}`, line {line}"),
        (Some(name), None) => format!("in template `{name}`"),
        _ => "in a template".to_owned(),
    };
    let mut detail = format!("{place}: {err}");
    let debug_info = err.display_debug_info().to_string();
    if !debug_info.trim().is_empty() {
        detail.push('\n');
        detail.push_str(&debug_info);
    }
    Error::internal(detail)
}

impl<S: Send + Sync> FromRequestParts<S> for Templates {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let context = AppContext::from_request_parts(parts, state).await?;
        context.get::<Templates>().cloned().ok_or_else(|| {
            Error::internal("the app has no templates: this should not happen (App provides them)")
        })
    }
}

/// A response rendered from a template on its way out, with the request's
/// context added (`request.path`, `request.method`, `debug`):
/// `Template::render("polls/detail.html", context! { question })`.
#[derive(Clone, Debug)]
pub struct Template {
    name: String,
    block: Option<String>,
    context: Value,
}

impl Template {
    /// The response of template `name` with `context`.
    pub fn render(name: impl Into<String>, context: impl serde::Serialize) -> Template {
        Template {
            name: name.into(),
            block: None,
            context: Value::from(minijinja::value::Serde(&context)),
        }
    }

    /// The response of block `block` of template `name` alone (a partial):
    /// `Template::partial("polls/index.html", "results", context! { .. })`.
    pub fn partial(
        name: impl Into<String>,
        block: impl Into<String>,
        context: impl serde::Serialize,
    ) -> Template {
        Template {
            name: name.into(),
            block: Some(block.into()),
            context: Value::from(minijinja::value::Serde(&context)),
        }
    }
}

impl IntoResponse for Template {
    fn into_response(self) -> Response {
        // Rendered by the HTTP core, which knows the request and the engine.
        let mut response = Response::new(axum::body::Body::empty());
        response
            .extensions_mut()
            .insert(PendingTemplate(Arc::new(self)));
        response
    }
}

/// The request's CSRF token, masked when a template first shows it.
#[derive(Debug)]
struct LazyCsrfToken(crate::http::csrf::CsrfState);

impl minijinja::value::Object for LazyCsrfToken {
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.token())
    }
}

/// Estate's context values for a page: `request` (`path`, `method`),
/// `debug`, `csrf_token`, and `csp_nonce` when there is one (absent
/// otherwise, so `csp_nonce()` can say what is missing).
#[derive(Debug)]
struct BuiltinContext {
    method: http::Method,
    path: String,
    debug: bool,
    csrf: Option<crate::http::csrf::CsrfState>,
    csp_nonce: Option<crate::http::csp::CspNonce>,
}

impl minijinja::value::Object for BuiltinContext {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "request" => Some(minijinja::context! {
                method => self.method.as_str(),
                path => self.path.as_str(),
            }),
            "debug" => Some(Value::from(self.debug)),
            "csrf_token" => Some(match &self.csrf {
                Some(state) => Value::from_object(LazyCsrfToken(state.clone())),
                None => Value::from(()),
            }),
            "csp_nonce" => Some(match &self.csp_nonce {
                Some(nonce) => Value::from(nonce.clone()),
                None => Value::from_object(crate::http::csp::NoNonce),
            }),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Str(&["request", "debug", "csrf_token"])
    }
}

/// A [`Template`] waiting for the core to render it.
#[derive(Clone)]
pub(crate) struct PendingTemplate(pub(crate) Arc<Template>);

impl PendingTemplate {
    /// The page, with the request's context merged under the handler's.
    pub(crate) fn render(
        &self,
        templates: &Templates,
        method: &http::Method,
        path: &str,
        debug: bool,
        csrf: Option<crate::http::csrf::CsrfState>,
        csp_nonce: Option<crate::http::csp::CspNonce>,
        added: Vec<Value>,
    ) -> Result<Html<String>, Error> {
        // One object answering Estate's keys when a template asks, rather
        // than maps built for every page.
        let builtin = Value::from_object(BuiltinContext {
            method: method.clone(),
            path: path.to_owned(),
            debug,
            // Computed only when the page uses it, so only such pages set
            // the CSRF cookie (and `Vary: Cookie`).
            csrf,
            csp_nonce,
        });
        // Later maps win: Estate's values, then `added` (the app's
        // processors in order, then extra context), then the handler's, which
        // win over all (as in Django).
        let context = minijinja::value::merge_maps(
            std::iter::once(builtin)
                .chain(added)
                .chain(std::iter::once(self.0.context.clone())),
        );
        match &self.0.block {
            Some(block) => templates
                .render_block(&self.0.name, block, context)
                .map(Html),
            None => templates.render(&self.0.name, context),
        }
    }
}
