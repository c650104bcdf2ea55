//! Routes, route names and `reverse`.
//!
//! - [`Route`] and the method functions [`get`], [`post`], ... build one route;
//! - [`Routes`] groups routes under a prefix and namespace;
//! - [`Urls`] (an extractor) and [`UrlTable`] turn names back into paths.

mod layer;
mod path;
mod route;
mod routes;
pub(crate) mod urls;

pub use layer::RouteLayer;
pub use path::Path;
pub use route::{HandlerInfo, Route, RouteExt, any, delete, get, head, options, patch, post, put};
pub(crate) use routes::RouteFlags;
pub use routes::{RouteInfo, Routes};

pub use urls::{IntoUrlArgs, ReverseError, UrlArgs, UrlTable, Urls};
