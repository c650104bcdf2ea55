//! Migration 0001_initial of `auth`: users, groups, permissions and their
//! links, in the tables and columns Django uses. Written by makemigrations.

#[allow(unused_imports)]
use crate::orm::migrations::prelude::*;

/// The migration.
pub(crate) fn migration() -> Migration {
    Migration::new("auth", "0001_initial")
        .operation(Operation::CreateModel(
            ModelState::new("auth", "Group", "auth_group")
                .field(FieldState::auto("id"))
                .field(
                    FieldState::new("name", FieldType::String)
                        .unique()
                        .max_length(150),
                ),
        ))
        .operation(Operation::CreateModel(
            ModelState::new("auth", "Permission", "auth_permission")
                .field(FieldState::auto("id"))
                .field(FieldState::new("name", FieldType::String).max_length(255))
                .field(FieldState::new("app_label", FieldType::String).max_length(100))
                .field(FieldState::new("model", FieldType::String).max_length(100))
                .field(FieldState::new("codename", FieldType::String).max_length(100))
                .constraint(ConstraintState::Unique {
                    name: "auth_permission_app_label_codename_uniq".into(),
                    fields: vec!["app_label".into(), "codename".into()],
                }),
        ))
        .operation(Operation::CreateModel(
            ModelState::new("auth", "Group_permissions", "auth_group_permissions")
                .field(FieldState::auto("id"))
                .field(
                    FieldState::new("group", FieldType::BigInt)
                        .column("group_id")
                        .references(ModelKey::new("auth", "Group"), OnDelete::Cascade),
                )
                .field(
                    FieldState::new("permission", FieldType::BigInt)
                        .column("permission_id")
                        .references(ModelKey::new("auth", "Permission"), OnDelete::Cascade),
                )
                .constraint(ConstraintState::Unique {
                    name: "auth_group_permissions_group_permission_uniq".into(),
                    fields: vec!["group".into(), "permission".into()],
                }),
        ))
        .operation(Operation::CreateModel(
            ModelState::new("auth", "User", "auth_user")
                .field(FieldState::auto("id"))
                .field(FieldState::new("password", FieldType::String).max_length(128))
                .field(FieldState::new("last_login", FieldType::DateTime).null())
                .field(FieldState::new("is_superuser", FieldType::Bool))
                .field(
                    FieldState::new("username", FieldType::String)
                        .unique()
                        .max_length(150),
                )
                .field(FieldState::new("first_name", FieldType::String).max_length(150))
                .field(FieldState::new("last_name", FieldType::String).max_length(150))
                .field(FieldState::new("email", FieldType::String).max_length(254))
                .field(FieldState::new("is_staff", FieldType::Bool))
                .field(FieldState::new("is_active", FieldType::Bool))
                .field(FieldState::new("date_joined", FieldType::DateTime)),
        ))
        .operation(Operation::CreateModel(
            ModelState::new("auth", "User_groups", "auth_user_groups")
                .field(FieldState::auto("id"))
                .field(
                    FieldState::new("user", FieldType::BigInt)
                        .column("user_id")
                        .references(ModelKey::new("auth", "User"), OnDelete::Cascade),
                )
                .field(
                    FieldState::new("group", FieldType::BigInt)
                        .column("group_id")
                        .references(ModelKey::new("auth", "Group"), OnDelete::Cascade),
                )
                .constraint(ConstraintState::Unique {
                    name: "auth_user_groups_user_group_uniq".into(),
                    fields: vec!["user".into(), "group".into()],
                }),
        ))
        .operation(Operation::CreateModel(
            ModelState::new(
                "auth",
                "User_user_permissions",
                "auth_user_user_permissions",
            )
            .field(FieldState::auto("id"))
            .field(
                FieldState::new("user", FieldType::BigInt)
                    .column("user_id")
                    .references(ModelKey::new("auth", "User"), OnDelete::Cascade),
            )
            .field(
                FieldState::new("permission", FieldType::BigInt)
                    .column("permission_id")
                    .references(ModelKey::new("auth", "Permission"), OnDelete::Cascade),
            )
            .constraint(ConstraintState::Unique {
                name: "auth_user_user_permissions_user_permission_uniq".into(),
                fields: vec!["user".into(), "permission".into()],
            }),
        ))
}
