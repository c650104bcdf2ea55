//! [`Path`]: the typed parameters of the route's path, as axum's `Path`,
//! except that a value that cannot be the asked type is a 404, as in
//! Django, where `/polls/abc/` does not match `<int:question_id>`.

use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// The route's path parameters, deserialized: `Path(id): Path<i64>` for
/// `/polls/{id}/`, `Path((app, id)): Path<(String, i64)>` for two.
///
/// A parameter that does not parse (`/polls/abc/` for an `i64`) answers
/// 404 Not Found, saying which; a mismatch between the route and the type
/// (two parameters into one) is a programming error, 500.
///
/// ```
/// use estate::prelude::*;
///
/// async fn detail(Path(id): Path<i64>) -> String {
///     format!("question {id}")
/// }
///
/// let app = App::new().route("/polls/{id}/", get(detail));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Path<T>(pub T);

impl<T> std::ops::Deref for Path<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Path<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// A client's bad value: 404 naming it; the route's own mistake (the
/// parameters cannot fill the type: a missing field, a wrong count): 500.
fn reject(rejection: PathRejection) -> Error {
    let mistake = match &rejection {
        PathRejection::FailedToDeserializePathParams(failed) => matches!(
            failed.kind(),
            ErrorKind::Message(_)
                | ErrorKind::WrongNumberOfParameters { .. }
                | ErrorKind::UnsupportedType { .. }
        ),
        _ => true,
    };
    if !mistake && rejection.status().is_client_error() {
        Error::not_found(format!("No such page: {}", rejection.body_text()))
    } else {
        Error::msg(format!("path parameters: {}", rejection.body_text()))
    }
}

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        <axum::extract::Path<T> as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(reject)
    }
}

impl<T, S> OptionalFromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send + 'static,
    S: Send + Sync,
{
    type Rejection = Error;

    /// `None` on a route without parameters.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, Error> {
        <axum::extract::Path<T> as OptionalFromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(|found| found.map(|axum::extract::Path(value)| Path(value)))
            .map_err(reject)
    }
}
