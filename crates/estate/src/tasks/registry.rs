//! Which tasks an app knows, by name, and how to run each from its stored
//! JSON arguments.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::{Task, TaskContext, TaskOptions};

/// Runs one task from its JSON arguments; its result as JSON.
type Runner = Arc<
    dyn Fn(TaskContext, &str) -> BoxFuture<'static, crate::Result<serde_json::Value>> + Send + Sync,
>;

/// A registered task: how to run it and its options.
#[derive(Clone)]
pub(crate) struct Registered {
    type_id: std::any::TypeId,
    pub(crate) run: Runner,
    pub(crate) options: TaskOptions,
}

/// The tasks of an app (attached with [`AppModule::task`](crate::AppModule::task)),
/// or of the whole site once merged.
#[derive(Clone, Default)]
pub struct TaskRegistry {
    pub(crate) tasks: HashMap<&'static str, Registered>,
}

impl std::fmt::Debug for TaskRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.tasks.keys().copied().collect();
        names.sort_unstable();
        f.debug_struct("TaskRegistry")
            .field("tasks", &names)
            .finish()
    }
}

impl TaskRegistry {
    /// Adds `T`.
    ///
    /// # Panics
    /// When another task type is registered under the same name.
    pub(crate) fn add<T: Task>(&mut self) {
        let run: Runner = Arc::new(|ctx: TaskContext, args: &str| {
            let parsed: Result<T, _> = serde_json::from_str(args);
            Box::pin(async move {
                let task = parsed.map_err(|err| {
                    crate::Error::msg(format!(
                        "the stored arguments of task {} do not fit its type: {err}",
                        T::NAME
                    ))
                })?;
                let output = task.run(ctx).await?;
                serde_json::to_value(&output).map_err(|err| {
                    crate::Error::msg(format!(
                        "the result of task {} cannot be stored as JSON: {err}",
                        T::NAME
                    ))
                })
            })
        });
        let type_id = std::any::TypeId::of::<T>();
        if let Some(existing) = self.tasks.get(T::NAME) {
            assert!(
                existing.type_id == type_id,
                "two task types are named {:?} ({} is the second): give each task its own \
                 Task::NAME, such as \"app.task_name\"",
                T::NAME,
                std::any::type_name::<T>()
            );
            return;
        }
        self.tasks.insert(
            T::NAME,
            Registered {
                type_id,
                run,
                options: T::options(),
            },
        );
    }

    /// Adds every task of `other`.
    pub(crate) fn merge(&mut self, other: &TaskRegistry) {
        for (name, task) in &other.tasks {
            let kept = self.tasks.entry(name).or_insert_with(|| task.clone());
            assert!(
                kept.type_id == task.type_id,
                "two apps register different task types named {name:?}: give each task its \
                 own Task::NAME, such as \"app.task_name\""
            );
        }
    }

    /// The task registered as `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Registered> {
        self.tasks.get(name)
    }

    /// Whether `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.tasks.contains_key(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.tasks.keys().copied().collect();
        names.sort_unstable();
        names
    }
}
