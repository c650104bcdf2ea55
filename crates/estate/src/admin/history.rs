//! Who changed what, when: the [`LogEntry`] model (Django's
//! `admin.LogEntry`), written by every add, change and delete made through
//! the admin, and shown on each row's history page and the index's
//! "Recent actions".

use estate_orm::chrono::{DateTime, Utc};
use estate_orm::{Auto, ForeignKey, Model, ModelMeta, Value};

use crate::auth::User;
use crate::error::Error;

/// What was done.
#[derive(estate_macros::Choices, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionFlag {
    /// A row was added.
    #[choice(value = 1, label = "Addition")]
    Addition,
    /// A row was changed.
    #[choice(value = 2, label = "Change")]
    Change,
    /// A row was deleted.
    #[choice(value = 3, label = "Deletion")]
    Deletion,
}

/// One change made through the admin.
#[derive(estate_macros::Model, Debug, Clone)]
#[model(
    crate = "crate::orm",
    table = "admin_logentry",
    verbose_name = "log entry",
    verbose_name_plural = "log entries",
    ordering = "-action_time"
)]
pub struct LogEntry {
    /// The key.
    pub id: Auto<i64>,
    /// When.
    #[model(index)]
    pub action_time: DateTime<Utc>,
    /// Who.
    #[model(on_delete = Cascade)]
    pub user: ForeignKey<User>,
    /// The app of the changed model.
    #[model(max_length = 100)]
    pub app_label: String,
    /// The changed model, lower-case.
    #[model(max_length = 100)]
    pub model: String,
    /// The row's key, as text.
    #[model(max_length = 255)]
    pub object_id: String,
    /// How the row was named then.
    #[model(max_length = 200)]
    pub object_repr: String,
    /// Addition, change or deletion.
    pub action_flag: ActionFlag,
    /// What changed: "Changed question text and pub date."
    pub change_message: String,
}

/// Records an action by `user_id` on a row of `meta`.
pub(crate) async fn record(
    db: &estate_orm::Database,
    user_id: i64,
    app_label: &str,
    meta: &ModelMeta,
    object_id: &str,
    object_repr: &str,
    action_flag: ActionFlag,
    change_message: String,
) -> Result<(), Error> {
    let mut entry = LogEntry {
        id: Auto::new(),
        action_time: Utc::now(),
        user: ForeignKey::new(user_id),
        app_label: app_label.to_owned(),
        model: meta.name.to_lowercase(),
        object_id: object_id.to_owned(),
        object_repr: object_repr.chars().take(200).collect(),
        action_flag,
        change_message,
    };
    entry.save(db).await?;
    Ok(())
}

/// "Changed question text and pub date." from the values before and after
/// (Django's message), or "No fields changed.".
pub(crate) fn change_message(meta: &ModelMeta, before: &[Value], after: &[Value]) -> String {
    let changed: Vec<&str> = meta
        .fields
        .iter()
        .zip(before.iter().zip(after))
        .filter(|(field, (old, new))| !field.primary_key && old != new)
        .map(|(field, _)| field.verbose_name)
        .collect();
    match changed.as_slice() {
        [] => "No fields changed.".to_owned(),
        [one] => format!("Changed {one}."),
        [first @ .., last] => format!("Changed {} and {last}.", first.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_messages_name_the_changed_fields_like_django() {
        let meta = LogEntry::META;
        let before = vec![
            Value::I64(1),
            Value::DateTime(Utc::now()),
            Value::I64(1),
            Value::String("polls".into()),
            Value::String("question".into()),
            Value::String("1".into()),
            Value::String("A".into()),
            Value::I32(2),
            Value::String(String::new()),
        ];
        let mut after = before.clone();
        assert_eq!(change_message(meta, &before, &after), "No fields changed.");
        after[6] = Value::String("B".into());
        assert_eq!(
            change_message(meta, &before, &after),
            "Changed object repr."
        );
        after[3] = Value::String("blog".into());
        after[8] = Value::String("x".into());
        assert_eq!(
            change_message(meta, &before, &after),
            "Changed app label, object repr and change message."
        );
    }
}
