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
    // Several `migrate` processes at once (several instances starting) may
    // insert the same rows at the same moment: the loser sees a unique
    // violation, or on MySQL sometimes a deadlock. Either way, look again.
    let mut pause = std::time::Duration::from_millis(20);
    let mut tries = 1;
    loop {
        match create_missing_permissions(ctx, db).await {
            Err(err) if tries < 6 && is_a_concurrent_insert(&err) => {
                tokio::time::sleep(pause).await;
                pause *= 2;
                tries += 1;
            }
            result => return result.map_err(Error::from),
        }
    }
}

/// Whether a failed insert may have raced another process doing the same.
fn is_a_concurrent_insert(err: &estate_orm::DbError) -> bool {
    matches!(
        err.kind(),
        estate_orm::ErrorKind::UniqueViolation | estate_orm::ErrorKind::TransactionConflict
    )
}

async fn create_missing_permissions(
    ctx: &AppContext,
    db: &Database,
) -> Result<usize, estate_orm::DbError> {
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
        Permission::objects().bulk_create(db, missing).await?;
    }
    Ok(created)
}
