//! Actions on the rows ticked in a change list (Django's admin actions):
//! "Delete selected …", with a confirmation page listing everything the
//! deletion would take along, and actions of your own.

use std::future::Future;
use std::sync::Arc;

use axum::response::{IntoResponse, Redirect, Response};
use estate_orm::{Condition, Database, Model, ModelMeta, Value};
use futures_util::future::BoxFuture;
use http::StatusCode;

use super::entry::{AdminRequest, ModelPerms};
use super::history::ActionFlag;
use super::model_admin::{capitalised, parse_key, value_display};
use crate::error::Error;
use crate::templates::{Template, context};

/// The action every model has.
pub(crate) const DELETE_SELECTED: &str = "delete_selected";
/// Objects listed per model on the confirmation page.
const LISTED: usize = 100;

type Run<M> =
    Arc<dyn Fn(Database, Vec<M>) -> BoxFuture<'static, Result<String, Error>> + Send + Sync>;

/// An action of your own: a name (in the form), a description (in the
/// menu), the permission it needs, and what it does to the selected rows
/// (returning the notice to show).
pub(crate) struct Action<M> {
    pub(crate) name: &'static str,
    pub(crate) description: &'static str,
    pub(crate) permission: &'static str,
    run: Run<M>,
}

impl<M: Model> Action<M> {
    pub(crate) fn new<F, Fut>(
        name: &'static str,
        description: &'static str,
        permission: &'static str,
        run: F,
    ) -> Action<M>
    where
        F: Fn(Database, Vec<M>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, Error>> + Send + 'static,
    {
        Action {
            name,
            description,
            permission,
            run: Arc::new(move |db, rows| Box::pin(run(db, rows))),
        }
    }
}

/// Whether `perms` includes the permission named `permission`.
pub(crate) fn allowed(perms: ModelPerms, permission: &str) -> bool {
    match permission {
        "view" => perms.view,
        "add" => perms.add,
        "change" => perms.change,
        "delete" => perms.delete,
        _ => false,
    }
}

/// The actions menu: (name, description) the user may run.
pub(crate) fn menu<M: Model>(actions: &[Action<M>], perms: ModelPerms) -> Vec<(String, String)> {
    let mut menu = Vec::new();
    if perms.delete {
        menu.push((
            DELETE_SELECTED.to_owned(),
            format!("Delete selected {}", M::META.verbose_name_plural),
        ));
    }
    for action in actions.iter().filter(|a| allowed(perms, a.permission)) {
        menu.push((action.name.to_owned(), action.description.to_owned()));
    }
    menu
}

/// A POST to the change list: runs the chosen action on the ticked rows.
pub(crate) async fn run<M: Model>(
    actions: &[Action<M>],
    mut request: AdminRequest,
) -> Result<Response, Error> {
    let data = request.data.take().unwrap_or_default();
    let back = format!(
        "{}{}",
        request.url("changelist", None)?,
        super::filters::link(&request.query, "p", None).trim_end_matches('?')
    );
    let name = data.get("action").unwrap_or_default().to_owned();
    let keys: Vec<Value> = data
        .get_all("_selected_action")
        .into_iter()
        .filter_map(|id| parse_key(M::META, id))
        .collect();
    let custom = actions.iter().find(|a| a.name == name);
    let permission = match (&*name, custom) {
        (DELETE_SELECTED, _) => "delete",
        (_, Some(action)) => action.permission,
        _ => return Err(Error::bad_request(format!("There is no action “{name}”."))),
    };
    if !allowed(request.perms, permission) {
        return Err(Error::forbidden(
            "You do not have permission to run this action.",
        ));
    }
    if keys.is_empty() {
        request.warning(
            "Items must be selected in order to perform actions on them. No items have been \
             changed."
                .to_owned(),
        );
        return Ok(Redirect::to(&back).into_response());
    }
    let selected = Condition::<M>::field_in(M::META.pk().name, keys)?;
    if name == DELETE_SELECTED {
        if data.get("post") != Some("yes") {
            // Only rows that exist are listed (and counted).
            let existing: Vec<Value> = M::objects()
                .filter(selected)
                .all(&request.db)
                .await?
                .iter()
                .map(Model::pk_value)
                .collect();
            return confirmation::<M>(&request, existing).await;
        }
        // Named before they go, for the change log.
        let doomed = M::objects()
            .filter(selected.clone())
            .all(&request.db)
            .await?;
        match M::objects().filter(selected).delete(&request.db).await {
            Ok(result) => {
                for row in &doomed {
                    let key = value_display(&row.pk_value());
                    let label = super::model_admin::object_label(M::META, row);
                    request
                        .log(M::META, &key, &label, ActionFlag::Deletion, String::new())
                        .await?;
                }
                let count = result.per_model.get(M::META.name).copied().unwrap_or(0);
                let noun = if count == 1 {
                    M::META.verbose_name
                } else {
                    M::META.verbose_name_plural
                };
                request.success(format!("Successfully deleted {count} {noun}."));
            }
            Err(err) if err.kind() == estate_orm::ErrorKind::Protected => {
                request.error(format!("Cannot delete the selected rows: {err}"));
            }
            Err(err) => return Err(err.into()),
        }
        return Ok(Redirect::to(&back).into_response());
    }
    let rows = M::objects().filter(selected).all(&request.db).await?;
    let action = custom.expect("matched above");
    let notice = (action.run)(request.db.clone(), rows).await?;
    request.success(notice);
    Ok(Redirect::to(&back).into_response())
}

/// What deleting `keys` would take along, per model, with labels.
pub(crate) async fn deletion_summary(
    db: &Database,
    meta: &'static ModelMeta,
    keys: Vec<Value>,
) -> Result<Result<Vec<minijinja::Value>, String>, Error> {
    let plan = match estate_orm::deletion_preview(db, meta, keys).await {
        Ok(plan) => plan,
        Err(err) if err.kind() == estate_orm::ErrorKind::Protected => {
            return Ok(Err(err.to_string()));
        }
        Err(err) => return Err(err.into()),
    };
    // One entry per model, in the order found.
    let mut merged: Vec<(&'static ModelMeta, Vec<Value>)> = Vec::new();
    for (model, keys) in plan {
        match merged.iter_mut().find(|(m, _)| m.table == model.table) {
            Some((_, all)) => all.extend(keys),
            None => merged.push((model, keys)),
        }
    }
    let mut summary = Vec::new();
    for (model, keys) in merged {
        let count = keys.len();
        let shown: Vec<Value> = keys.into_iter().take(LISTED).collect();
        let objects: Vec<String> = estate_orm::choices_for_keys(db, model, &shown)
            .await?
            .into_iter()
            .map(|(key, label)| {
                label.unwrap_or_else(|| format!("{} ({})", model.verbose_name, value_display(&key)))
            })
            .collect();
        summary.push(context! {
            name => capitalised(if count == 1 { model.verbose_name } else { model.verbose_name_plural }),
            count,
            objects,
            more => count.saturating_sub(LISTED),
        });
    }
    Ok(Ok(summary))
}

/// "Are you sure?" for the ticked rows, listing what goes with them.
async fn confirmation<M: Model>(
    request: &AdminRequest,
    keys: Vec<Value>,
) -> Result<Response, Error> {
    let selected: Vec<String> = keys.iter().map(value_display).collect();
    let (summary, protected) = match deletion_summary(&request.db, M::META, keys).await? {
        Ok(summary) => (summary, None),
        Err(reason) => (Vec::new(), Some(reason)),
    };
    let status = if protected.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    let page = Template::render(
        "admin/delete_selected_confirmation.html",
        context! {
            site_title => request.site.site_title.clone(),
            site_header => request.site.site_header.clone(),
            model => super::model_admin::model_context(request, M::META)?,
            selected,
            summary,
            protected,
            action => DELETE_SELECTED,
        },
    );
    Ok((status, page).into_response())
}
