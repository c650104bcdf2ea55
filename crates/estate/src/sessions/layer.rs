//! The middleware that gives each request its [`Session`] and saves it
//! after the response.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use futures_util::future::BoxFuture;
use http::Request;
use tower::{Layer, Service};

use super::{Session, Sessions};

/// Installs sessions on every route (added by the app builder when the
/// sessions app is installed).
#[derive(Clone)]
pub(crate) struct SessionLayer(pub(crate) Sessions);

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> SessionService<S> {
        SessionService {
            inner,
            sessions: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct SessionService<S> {
    inner: S,
    sessions: Sessions,
}

impl<S> Service<Request<Body>> for SessionService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        // Only the cookie is read here; the store is asked when a handler
        // takes the Session, so pages without one cost no lookup.
        let cookie = crate::http::cookies::request_cookie(
            request.headers(),
            &self.sessions.settings().cookie_name,
        )
        .map(str::to_owned);
        let session = Session::new(self.sessions.clone(), cookie);
        request.extensions_mut().insert(session.clone());
        // The clone that was made ready is the one to call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let response = inner.call(request).await?;
            Ok(session.finish(response).await)
        })
    }
}
