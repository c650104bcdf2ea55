//! `ListView`: a page listing a model's rows, paginated if asked.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::Query;
use estate_orm::{Model, QuerySet};
use serde::Serialize;

use super::{QueryFn, context_of, default_query, object_name, route, template_name};
use crate::context::AppContext;
use crate::db::Db;
use crate::error::Error;
use crate::pagination::Paginator;
use crate::routing::Route;
use crate::templates::Template;

/// Django's `ListView`: `GET` renders `<app>/<model>_list.html` with the
/// rows as `object_list` and `<model>_list`; with
/// [`paginate_by`](Self::paginate_by), the rows of the page `?page=N` and
/// `page_obj` and `is_paginated` (a page number past the end is a 404).
pub struct ListView<M> {
    query: QueryFn<M>,
    template: Option<String>,
    context_name: Option<String>,
    per_page: Option<u64>,
}

impl<M: Model + Serialize + Send + Sync + 'static> Default for ListView<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model + Serialize + Send + Sync + 'static> ListView<M> {
    /// Every row, in the model's ordering.
    pub fn new() -> Self {
        ListView {
            query: default_query(),
            template: None,
            context_name: None,
            per_page: None,
        }
    }

    /// The rows to list, made for each request:
    /// `.queryset(|| Question::objects().filter(Question::PUB_DATE.lte(Utc::now())))`.
    pub fn queryset(mut self, query: impl Fn() -> QuerySet<M> + Send + Sync + 'static) -> Self {
        self.query = Arc::new(query);
        self
    }

    /// Another template than `<app>/<model>_list.html`.
    pub fn template(mut self, name: &str) -> Self {
        self.template = Some(name.to_owned());
        self
    }

    /// The list's name in the context besides `object_list` (default
    /// `<model>_list`, e.g. `question_list`).
    pub fn context_object_name(mut self, name: &str) -> Self {
        self.context_name = Some(name.to_owned());
        self
    }

    /// Pages of `per_page` rows, chosen by `?page=N` (or `?page=last`).
    pub fn paginate_by(mut self, per_page: u64) -> Self {
        self.per_page = Some(per_page.max(1));
        self
    }

    /// This view as a route named `name` (for `url()` and `reverse`).
    pub fn name(self, name: impl Into<String>) -> Route {
        Route::from(self).name(name)
    }

    async fn respond(
        &self,
        context: &AppContext,
        db: &Db,
        params: &HashMap<String, String>,
    ) -> Result<Template, Error> {
        let template = template_name::<M>(context, self.template.as_deref(), "list", "ListView")?;
        let list_name = self
            .context_name
            .clone()
            .unwrap_or_else(|| format!("{}_list", object_name::<M>()));
        let query = (self.query)();
        let mut pairs: Vec<(String, minijinja::Value)> = Vec::new();
        let rows = match self.per_page {
            Some(per_page) => {
                let page = Paginator::new(query, per_page)
                    .page(&**db, params.get("page").map(String::as_str))
                    .await?;
                let rows = minijinja::Value::from(minijinja::value::Serde(&page.items));
                pairs.push(("is_paginated".into(), (page.num_pages > 1).into()));
                let page = minijinja::Value::from(minijinja::value::Serde(&page));
                // `page` too, for `{% include "estate/pagination.html" %}`.
                pairs.push(("page".into(), page.clone()));
                pairs.push(("page_obj".into(), page));
                rows
            }
            None => {
                let rows = query.all(&**db).await?;
                pairs.push(("is_paginated".into(), false.into()));
                pairs.push(("page_obj".into(), minijinja::Value::from(())));
                minijinja::Value::from(minijinja::value::Serde(&rows))
            }
        };
        pairs.push(("object_list".into(), rows.clone()));
        pairs.push((list_name, rows));
        Ok(Template::render(template, context_of(pairs)))
    }
}

impl<M: Model + Serialize + Send + Sync + 'static> From<ListView<M>> for Route {
    fn from(view: ListView<M>) -> Route {
        let view = Arc::new(view);
        let handler =
            move |context: AppContext, db: Db, Query(params): Query<HashMap<String, String>>| {
                let view = view.clone();
                async move { view.respond(&context, &db, &params).await }
            };
        route::<M>("ListView", &["GET"], axum::routing::get(handler))
    }
}
