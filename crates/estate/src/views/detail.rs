//! `DetailView`: the page of one row.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use axum::extract::Path;
use estate_orm::{Model, QuerySet};
use serde::Serialize;

use super::{
    ContextFn, Lookup, QueryFn, context_entries, default_query, object_context, path_params, route,
    template_name,
};
use crate::context::AppContext;
use crate::db::Db;
use crate::error::Error;
use crate::routing::Route;
use crate::templates::Template;

/// Django's `DetailView`: `GET` renders `<app>/<model>_detail.html` with
/// the row the URL names as `object` and `<model>` (e.g. `question`), or a
/// 404 when there is none in the view's queryset.
pub struct DetailView<M> {
    query: QueryFn<M>,
    template: Option<String>,
    lookup: Lookup,
    extra: Option<ContextFn<M>>,
}

impl<M: Model + Serialize + Send + Sync + 'static> Default for DetailView<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model + Serialize + Send + Sync + 'static> DetailView<M> {
    /// Any row, by primary key.
    pub fn new() -> Self {
        DetailView {
            query: default_query(),
            template: None,
            lookup: Lookup::primary_key(),
            extra: None,
        }
    }

    /// The rows it may show, made for each request; others are a 404.
    pub fn queryset(mut self, query: impl Fn() -> QuerySet<M> + Send + Sync + 'static) -> Self {
        self.query = Arc::new(query);
        self
    }

    /// Another template than `<app>/<model>_detail.html`.
    pub fn template(mut self, name: &str) -> Self {
        self.template = Some(name.to_owned());
        self
    }

    /// Finds the row by this (unique) field instead of the primary key,
    /// from the URL parameter of the same name: `.route("/{slug}/",
    /// DetailView::<Page>::new().lookup_field("slug"))`.
    ///
    /// # Panics
    /// When the model has no such field.
    pub fn lookup_field(mut self, field: &str) -> Self {
        self.lookup = Lookup::field::<M>("DetailView", field);
        self
    }

    /// More for the template, computed from the object (Django's
    /// `get_context_data`): the closure gets the row and the database and
    /// returns a map, `context! { choices }`, merged into the context.
    ///
    /// ```ignore
    /// DetailView::<Question>::new().context_with(|question: Question, db: Db| async move {
    ///     let choices = question.related(Choice::QUESTION).all(&*db).await?;
    ///     Ok(context! { choices })
    /// })
    /// ```
    pub fn context_with<F, Fut>(mut self, extra: F) -> Self
    where
        M: Clone,
        F: Fn(M, Db) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<minijinja::Value, Error>> + Send + 'static,
    {
        self.extra = Some(Arc::new(move |object: &M, db: Db| {
            Box::pin(extra(object.clone(), db))
        }));
        self
    }

    /// This view as a route named `name`.
    pub fn name(self, name: impl Into<String>) -> Route {
        Route::from(self).name(name)
    }

    async fn respond(
        &self,
        context: &AppContext,
        db: &Db,
        params: &HashMap<String, String>,
    ) -> Result<Template, Error> {
        let template =
            template_name::<M>(context, self.template.as_deref(), "detail", "DetailView")?;
        let object = self.lookup.find(db, (self.query)(), params).await?;
        let extra = match &self.extra {
            Some(extra) => context_entries::<M>("DetailView", extra(&object, db.clone()).await?)?,
            None => Vec::new(),
        };
        Ok(Template::render(template, object_context(&object, extra)))
    }
}

impl<M: Model + Serialize + Send + Sync + 'static> From<DetailView<M>> for Route {
    fn from(view: DetailView<M>) -> Route {
        let view = Arc::new(view);
        let handler =
            move |context: AppContext, db: Db, params: Option<Path<HashMap<String, String>>>| {
                let view = view.clone();
                async move { view.respond(&context, &db, &path_params(params)).await }
            };
        route::<M>("DetailView", &["GET"], axum::routing::get(handler))
    }
}
