//! `CreateView`, `UpdateView` and `DeleteView`: ModelForm pages that write
//! rows, then redirect.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use estate_orm::{ErrorKind, Model, QuerySet};
use serde::Serialize;

use super::{
    Lookup, QueryFn, SuccessUrl, context_of, default_query, object_context, path_params, route,
    template_name,
};
use crate::context::AppContext;
use crate::db::Db;
use crate::error::Error;
use crate::forms::{FormData, ModelForm};
use crate::routing::{Route, Urls};
use crate::templates::Template;

type FormFn<M> = Arc<dyn Fn() -> ModelForm<M> + Send + Sync>;

/// What Create and Update views share: the form, template and redirect.
struct FormView<M: Model> {
    view: &'static str,
    form: Option<FormFn<M>>,
    template: Option<String>,
    success: SuccessUrl<M>,
    query: QueryFn<M>,
    lookup: Lookup,
}

impl<M: Model + Clone + Serialize + Send + Sync + 'static> FormView<M> {
    fn new(view: &'static str) -> Self {
        FormView {
            view,
            form: None,
            template: None,
            success: SuccessUrl::Missing,
            query: default_query(),
            lookup: Lookup::primary_key(),
        }
    }

    /// Checks the configuration once, at startup.
    fn checked(self) -> Self {
        assert!(
            self.form.is_some(),
            "{}<{}> needs .fields(&[...]) or .form(|| ModelForm::new()...): the fields it edits",
            self.view,
            M::META.name
        );
        self.success.check(self.view);
        self
    }

    /// GET shows the form, POST saves it and redirects, or shows it again
    /// with its errors. `editing`: the object the URL names, else a new one.
    async fn respond(
        &self,
        editing: bool,
        context: &AppContext,
        urls: &Urls,
        db: &Db,
        params: &HashMap<String, String>,
        data: Option<FormData>,
    ) -> Result<Response, Error> {
        let template = template_name::<M>(context, self.template.as_deref(), "form", self.view)?;
        let make = self.form.as_ref().expect("checked at startup");
        let mut form = make();
        let object = if editing {
            let object = self.lookup.find(db, (self.query)(), params).await?;
            form = form.instance(object.clone());
            Some(object)
        } else {
            None
        };
        if let Some(data) = data {
            form = form.bind(data).with_choices(&**db).await?;
            if let Some(saved) = form.save(&**db).await? {
                let next = self.success.resolve(&saved, urls)?;
                return Ok(Redirect::to(&next).into_response());
            }
        } else {
            form = form.with_choices(&**db).await?;
        }
        let form = ("form".to_owned(), minijinja::Value::from(form));
        let context = match &object {
            Some(object) => object_context(object, vec![form]),
            None => context_of(vec![form]),
        };
        Ok(Template::render(template, context).into_response())
    }

    fn into_route(self, editing: bool) -> Route {
        let view = Arc::new(self.checked());
        let name = view.view;
        let shown = view.clone();
        let show = move |context: AppContext,
                         urls: Urls,
                         db: Db,
                         params: Option<Path<HashMap<String, String>>>| {
            let view = shown.clone();
            async move {
                view.respond(editing, &context, &urls, &db, &path_params(params), None)
                    .await
            }
        };
        let save = move |context: AppContext,
                         urls: Urls,
                         db: Db,
                         params: Option<Path<HashMap<String, String>>>,
                         data: FormData| {
            let view = view.clone();
            async move {
                view.respond(
                    editing,
                    &context,
                    &urls,
                    &db,
                    &path_params(params),
                    Some(data),
                )
                .await
            }
        };
        route::<M>(name, &["GET", "POST"], axum::routing::get(show).post(save))
    }
}

/// The builder methods Create and Update views share.
macro_rules! form_view_options {
    ($view:ident) => {
        impl<M: Model + Clone + Serialize + Send + Sync + 'static> $view<M> {
            /// The model fields the form edits (Django's `fields`).
            pub fn fields(mut self, names: &[&str]) -> Self {
                let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
                self.0.form = Some(Arc::new(move || {
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    ModelForm::<M>::new().fields(&names)
                }));
                self
            }

            /// The form, made for each request, for everything `fields` does
            /// not cover: labels, widgets, values of fields not shown —
            /// `.form(|| ModelForm::new().fields(&["question_text"]).start_from(...))`.
            pub fn form(mut self, form: impl Fn() -> ModelForm<M> + Send + Sync + 'static) -> Self {
                self.0.form = Some(Arc::new(form));
                self
            }

            /// Another template than `<app>/<model>_form.html`.
            pub fn template(mut self, name: &str) -> Self {
                self.0.template = Some(name.to_owned());
                self
            }

            /// Where to go after saving: a path whose `{field}` placeholders
            /// are filled from the saved row, e.g. `"/polls/{id}/"`.
            pub fn success_url(mut self, pattern: &str) -> Self {
                self.0.success = SuccessUrl::Pattern(pattern.to_owned());
                self
            }

            /// Where to go after saving, computed:
            /// `.success_url_with(|q, urls| Ok(urls.reverse("polls:detail", (q.id,))?))`.
            pub fn success_url_with(
                mut self,
                url: impl Fn(&M, &Urls) -> Result<String, Error> + Send + Sync + 'static,
            ) -> Self {
                self.0.success = SuccessUrl::With(Arc::new(url));
                self
            }

            /// This view as a route named `name`.
            ///
            /// # Panics
            /// Without `fields`/`form` or `success_url`.
            pub fn name(self, name: impl Into<String>) -> Route {
                Route::from(self).name(name)
            }
        }
    };
}

/// Django's `CreateView`: `GET` renders `<app>/<model>_form.html` with an
/// empty `form`; `POST` saves a new row and redirects to
/// [`success_url`](Self::success_url), or renders the form again with its
/// errors and the values sent.
pub struct CreateView<M: Model>(FormView<M>);

form_view_options!(CreateView);

impl<M: Model + Clone + Serialize + Send + Sync + 'static> Default for CreateView<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model + Clone + Serialize + Send + Sync + 'static> CreateView<M> {
    /// A view that needs [`fields`](Self::fields) (or `form`) and a
    /// [`success_url`](Self::success_url).
    pub fn new() -> Self {
        CreateView(FormView::new("CreateView"))
    }
}

impl<M: Model + Clone + Serialize + Send + Sync + 'static> From<CreateView<M>> for Route {
    fn from(view: CreateView<M>) -> Route {
        view.0.into_route(false)
    }
}

/// Django's `UpdateView`: like [`CreateView`] for the row the URL names
/// (404 if none), which the context also holds as `object` and `<model>`.
pub struct UpdateView<M: Model>(FormView<M>);

form_view_options!(UpdateView);

impl<M: Model + Clone + Serialize + Send + Sync + 'static> Default for UpdateView<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model + Clone + Serialize + Send + Sync + 'static> UpdateView<M> {
    /// A view that needs [`fields`](Self::fields) (or `form`) and a
    /// [`success_url`](Self::success_url).
    pub fn new() -> Self {
        UpdateView(FormView::new("UpdateView"))
    }

    /// The rows it may edit, made for each request; others are a 404.
    pub fn queryset(mut self, query: impl Fn() -> QuerySet<M> + Send + Sync + 'static) -> Self {
        self.0.query = Arc::new(query);
        self
    }

    /// Finds the row by this (unique) field and the URL parameter of the
    /// same name instead of the primary key.
    ///
    /// # Panics
    /// When the model has no such field.
    pub fn lookup_field(mut self, field: &str) -> Self {
        self.0.lookup = Lookup::field::<M>("UpdateView", field);
        self
    }
}

impl<M: Model + Clone + Serialize + Send + Sync + 'static> From<UpdateView<M>> for Route {
    fn from(view: UpdateView<M>) -> Route {
        view.0.into_route(true)
    }
}

/// Django's `DeleteView`: `GET` renders `<app>/<model>_confirm_delete.html`
/// with the row as `object` and `<model>`; `POST` deletes it (with what
/// cascades) and redirects to [`success_url`](Self::success_url). A row
/// that other rows protect is not deleted: 409 Conflict, saying why.
pub struct DeleteView<M> {
    query: QueryFn<M>,
    template: Option<String>,
    lookup: Lookup,
    success: SuccessUrl<M>,
}

impl<M: Model + Clone + Serialize + Send + Sync + 'static> Default for DeleteView<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model + Clone + Serialize + Send + Sync + 'static> DeleteView<M> {
    /// A view that needs a [`success_url`](Self::success_url).
    pub fn new() -> Self {
        DeleteView {
            query: default_query(),
            template: None,
            lookup: Lookup::primary_key(),
            success: SuccessUrl::Missing,
        }
    }

    /// The rows it may delete, made for each request; others are a 404.
    pub fn queryset(mut self, query: impl Fn() -> QuerySet<M> + Send + Sync + 'static) -> Self {
        self.query = Arc::new(query);
        self
    }

    /// Another template than `<app>/<model>_confirm_delete.html`.
    pub fn template(mut self, name: &str) -> Self {
        self.template = Some(name.to_owned());
        self
    }

    /// Finds the row by this (unique) field instead of the primary key.
    ///
    /// # Panics
    /// When the model has no such field.
    pub fn lookup_field(mut self, field: &str) -> Self {
        self.lookup = Lookup::field::<M>("DeleteView", field);
        self
    }

    /// Where to go after deleting; `{field}` placeholders are filled from
    /// the deleted row.
    pub fn success_url(mut self, pattern: &str) -> Self {
        self.success = SuccessUrl::Pattern(pattern.to_owned());
        self
    }

    /// Where to go after deleting, computed from the deleted row.
    pub fn success_url_with(
        mut self,
        url: impl Fn(&M, &Urls) -> Result<String, Error> + Send + Sync + 'static,
    ) -> Self {
        self.success = SuccessUrl::With(Arc::new(url));
        self
    }

    /// This view as a route named `name`.
    ///
    /// # Panics
    /// Without a `success_url`.
    pub fn name(self, name: impl Into<String>) -> Route {
        Route::from(self).name(name)
    }

    async fn respond(
        &self,
        context: &AppContext,
        urls: &Urls,
        db: &Db,
        params: &HashMap<String, String>,
        delete: bool,
    ) -> Result<Response, Error> {
        let object = self.lookup.find(db, (self.query)(), params).await?;
        if delete {
            let next = self.success.resolve(&object, urls)?;
            return match object.delete(&**db).await {
                Ok(_) => Ok(Redirect::to(&next).into_response()),
                Err(err) if err.kind() == ErrorKind::Protected => Err(Error::conflict(format!(
                    "This {} cannot be deleted: {}",
                    M::META.verbose_name,
                    err.message()
                ))),
                Err(err) => Err(err.into()),
            };
        }
        let template = template_name::<M>(
            context,
            self.template.as_deref(),
            "confirm_delete",
            "DeleteView",
        )?;
        Ok(Template::render(template, object_context(&object, Vec::new())).into_response())
    }
}

impl<M: Model + Clone + Serialize + Send + Sync + 'static> From<DeleteView<M>> for Route {
    fn from(view: DeleteView<M>) -> Route {
        view.success.check("DeleteView");
        let view = Arc::new(view);
        let shown = view.clone();
        let show = move |context: AppContext,
                         urls: Urls,
                         db: Db,
                         params: Option<Path<HashMap<String, String>>>| {
            let view = shown.clone();
            async move {
                view.respond(&context, &urls, &db, &path_params(params), false)
                    .await
            }
        };
        let delete = move |context: AppContext,
                           urls: Urls,
                           db: Db,
                           params: Option<Path<HashMap<String, String>>>| {
            let view = view.clone();
            async move {
                view.respond(&context, &urls, &db, &path_params(params), true)
                    .await
            }
        };
        route::<M>(
            "DeleteView",
            &["GET", "POST"],
            axum::routing::get(show).post(delete),
        )
    }
}
