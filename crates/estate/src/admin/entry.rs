//! What the site's pages need from a registered model, whatever its type:
//! the [`AdminEntry`] trait, and the request state handed to it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::response::Response;
use estate_orm::{Database, ModelMeta};
use futures_util::future::BoxFuture;
use http::Method;

use super::Site;
use crate::auth::CurrentUser;
use crate::error::Error;
use crate::forms::FormData;
use crate::messages::Messages;
use crate::routing::Urls;

/// A model's permissions for the current user.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub(crate) struct ModelPerms {
    pub(crate) view: bool,
    pub(crate) add: bool,
    pub(crate) change: bool,
    pub(crate) delete: bool,
}

impl ModelPerms {
    /// The user's permissions on `model` of `app` (superusers: all).
    pub(crate) async fn of(user: &CurrentUser, app: &str, model: &str) -> Result<Self, Error> {
        let has = |action: &str| format!("{app}.{action}_{model}");
        let change = user.has_perm(&has("change")).await?;
        Ok(ModelPerms {
            // Django: a change permission lets one view too.
            view: change || user.has_perm(&has("view")).await?,
            add: user.has_perm(&has("add")).await?,
            change,
            delete: user.has_perm(&has("delete")).await?,
        })
    }

    /// Whether the model appears at all.
    pub(crate) fn any(self) -> bool {
        self.view || self.add || self.change || self.delete
    }
}

/// One admin request for a model's pages.
pub(crate) struct AdminRequest {
    pub(crate) site: Arc<Site>,
    pub(crate) db: Database,
    pub(crate) messages: Option<Messages>,
    pub(crate) urls: Urls,
    pub(crate) method: Method,
    pub(crate) query: HashMap<String, String>,
    pub(crate) data: Option<FormData>,
    pub(crate) app_label: String,
    pub(crate) model_name: String,
    pub(crate) perms: ModelPerms,
    /// The staff user making the request (for the change log).
    pub(crate) user_id: i64,
    /// The auth app's configuration (hashers, validators).
    pub(crate) auth: crate::auth::Auth,
    /// The request's user (for the permissions of inline models).
    pub(crate) current: CurrentUser,
    /// The app (to find which app installs an inline's model).
    pub(crate) context: crate::context::AppContext,
}

impl AdminRequest {
    /// Records an action in the change log.
    pub(crate) async fn log(
        &self,
        meta: &estate_orm::ModelMeta,
        object_id: &str,
        object_repr: &str,
        flag: super::history::ActionFlag,
        message: String,
    ) -> Result<(), Error> {
        super::history::record(
            &self.db,
            self.user_id,
            &self.app_label,
            meta,
            object_id,
            object_repr,
            flag,
            message,
        )
        .await
    }

    /// A success notice for the next page, when messages are installed.
    pub(crate) fn success(&self, text: String) {
        if let Some(messages) = &self.messages {
            messages.success(text);
        }
    }

    /// A warning for the next page, when messages are installed.
    pub(crate) fn warning(&self, text: String) {
        if let Some(messages) = &self.messages {
            messages.warning(text);
        }
    }

    /// An error notice for the next page, when messages are installed.
    pub(crate) fn error(&self, text: String) {
        if let Some(messages) = &self.messages {
            messages.error(text);
        }
    }

    /// A URL of this model's pages: `changelist`, `add`, or with an object
    /// id `change` / `delete`.
    pub(crate) fn url(&self, page: &str, id: Option<&str>) -> Result<String, Error> {
        let name = format!("admin:{page}");
        Ok(match id {
            Some(id) => self.urls.reverse(
                &name,
                (self.app_label.as_str(), self.model_name.as_str(), id),
            )?,
            None => self
                .urls
                .reverse(&name, (self.app_label.as_str(), self.model_name.as_str()))?,
        })
    }
}

/// A registered model's pages. Implemented by [`ModelAdmin`](super::ModelAdmin).
pub(crate) trait AdminEntry: Send + Sync {
    /// The model.
    fn meta(&self) -> &'static ModelMeta;

    /// The list of rows: search, sort, pages.
    fn changelist(&self, request: AdminRequest) -> BoxFuture<'_, Result<Response, Error>>;

    /// The form for a new row.
    fn add(&self, request: AdminRequest) -> BoxFuture<'_, Result<Response, Error>>;

    /// The form for row `id` (read-only without the change permission).
    fn change(&self, request: AdminRequest, id: String) -> BoxFuture<'_, Result<Response, Error>>;

    /// The confirmation, then the deletion, of row `id`.
    fn delete(&self, request: AdminRequest, id: String) -> BoxFuture<'_, Result<Response, Error>>;

    /// The change log of row `id`.
    fn history(&self, request: AdminRequest, id: String) -> BoxFuture<'_, Result<Response, Error>>;

    /// The models searched by this model's autocomplete fields, by field.
    fn autocomplete_targets(&self) -> Vec<(&'static str, &'static ModelMeta)>;

    /// Whether the model has `search_fields` (autocomplete boxes need them).
    fn searchable(&self) -> bool;

    /// A page (from 1) of the rows matching `term`, as (key, label), and
    /// whether more follow: what an autocomplete box pointing here shows.
    fn search_rows<'a>(
        &'a self,
        db: &'a Database,
        term: &'a str,
        page: u64,
    ) -> BoxFuture<'a, Result<super::widgets::SearchPage, Error>>;

    /// The password page of row `id` (users only; others have none).
    fn password(
        &self,
        request: AdminRequest,
        id: String,
    ) -> BoxFuture<'_, Result<Response, Error>> {
        let _ = (request, id);
        Box::pin(async { Err(Error::not_found("This page does not exist.")) })
    }
}
