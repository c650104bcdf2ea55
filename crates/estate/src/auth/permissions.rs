//! The default permissions: `add_`, `change_`, `delete_` and `view_` for
//! every model of every installed app, created by `migrate` (Django's
//! `create_permissions` on `post_migrate`).

use std::collections::HashSet;

use estate_orm::{Database, Model};

use super::models::Permission;
use crate::app_module::Models;
use crate::context::AppContext;
use crate::error::Error;

/// Django's default actions, in its order.
const ACTIONS: [&str; 4] = ["add", "change", "delete", "view"];

/// Creates the missing default permissions of every installed model;
/// returns how many were created. Safe to run again (what exists is kept).
///
/// # Errors
/// Database errors (the permission table must exist: run `migrate`).
pub async fn create_default_permissions(ctx: &AppContext, db: &Database) -> Result<usize, Error> {
    let existing: HashSet<(String, String)> = Permission::objects()
        .values((Permission::APP_LABEL, Permission::CODENAME))
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut missing = Vec::new();
    for app in ctx.apps() {
        let Some(models) = app.extensions.get::<Models>() else {
            continue;
        };
        for meta in &models.0 {
            let model = meta.name.to_lowercase();
            for action in ACTIONS {
                let codename = format!("{action}_{model}");
                if existing.contains(&(app.name.clone(), codename.clone())) {
                    continue;
                }
                missing.push(Permission {
                    id: estate_orm::Auto::new(),
                    name: format!("Can {action} {}", meta.verbose_name),
                    app_label: app.name.clone(),
                    model: model.clone(),
                    codename,
                });
            }
        }
    }
    let created = missing.len();
    if !missing.is_empty() {
        match Permission::objects().bulk_create(db, missing).await {
            Ok(_) => {}
            // Another `migrate` created them at the same moment: look again.
            Err(err) if err.kind() == estate_orm::ErrorKind::UniqueViolation => {
                return Box::pin(create_default_permissions(ctx, db)).await;
            }
            Err(err) => return Err(err.into()),
        }
    }
    Ok(created)
}
