//! The one bound every `.layer(...)` method takes.

use std::convert::Infallible;

use axum::extract::Request;
use axum::response::IntoResponse;
use axum::routing::Route as AxumRoute;
use tower::{Layer, Service};

/// A tower layer that can wrap Estate routes: what axum's `Router::layer`
/// accepts. Implemented for every such layer; you never implement it.
pub trait RouteLayer:
    Layer<
        AxumRoute,
        Service: Service<
            Request,
            Response: IntoResponse + 'static,
            Error: Into<Infallible> + 'static,
            Future: Send + 'static,
        > + Clone
                     + Send
                     + Sync
                     + 'static,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<L> RouteLayer for L
where
    L: Layer<AxumRoute> + Clone + Send + Sync + 'static,
    L::Service: Service<Request> + Clone + Send + Sync + 'static,
    <L::Service as Service<Request>>::Response: IntoResponse + 'static,
    <L::Service as Service<Request>>::Error: Into<Infallible> + 'static,
    <L::Service as Service<Request>>::Future: Send + 'static,
{
}
