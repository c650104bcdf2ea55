//! Checking a resource's options against its model, once, at startup.

use std::sync::OnceLock;

use estate::orm::{Condition, FieldType, Model};

use crate::query::{Pagination, QueryOptions};
use crate::serializer::{Many, Nested, Serializer, needs_server_value};

use super::{Action, Compiled, Resource};

impl<M: Model> Resource<M> {
    /// Checks the options against the model and resolves them; a mistake
    /// panics with a message naming the resource, the field and the fix
    /// (at startup, like Django's system checks).
    pub(crate) fn compile(self) -> Compiled<M> {
        let meta = M::META;
        let resource = &self.name;
        let index_of = |name: &str, option: &str| -> usize {
            meta.fields
                .iter()
                .position(|f| f.name == name)
                .unwrap_or_else(|| {
                    let mut names: Vec<&str> = meta.fields.iter().map(|f| f.name).collect();
                    names.extend(meta.many_to_many.iter().map(|m| m.name));
                    let hint = if meta.many_to_many(name).is_some() {
                        " (a many-to-many field: it can be listed in fields, exclude and \
                         read_only only)"
                    } else {
                        ""
                    };
                    panic!(
                        "API resource `{resource}`: {option} names `{name}`, which is not a field \
                         of {}{hint}; its fields are: {}",
                        meta.name,
                        names.join(", ")
                    )
                })
        };
        assert!(
            !resource.is_empty() && !resource.contains(['{', '}', '/']),
            "API resource name {resource:?} must be a plain path segment such as \"questions\""
        );
        // Many-to-many fields are listed by name like the others, and
        // handled apart: they have no column.
        let is_many = |name: &&'static str| meta.many_to_many(name).is_some();
        let many: Vec<Many> = meta
            .many_to_many
            .iter()
            .filter(|m| {
                self.fields.as_ref().is_none_or(|f| f.contains(&m.name))
                    && !self.exclude.contains(&m.name)
                    && !self.write_only.contains(&m.name)
            })
            .map(|m| Many {
                meta: m,
                // Links through a model of your own are rows of their own.
                writable: m.auto_created && !self.read_only.contains(&m.name),
            })
            .collect();
        let listed: Vec<usize> = match &self.fields {
            Some(fields) => fields
                .iter()
                .filter(|f| !is_many(f))
                .map(|f| index_of(f, "fields"))
                .collect(),
            None => (0..meta.fields.len()).collect(),
        };
        let excluded: Vec<usize> = self
            .exclude
            .iter()
            .filter(|f| !is_many(f))
            .map(|f| index_of(f, "exclude"))
            .collect();
        let read_only: Vec<usize> = self
            .read_only
            .iter()
            .filter(|f| !is_many(f))
            .map(|f| index_of(f, "read_only"))
            .collect();
        let mut write_only: Vec<usize> = self
            .write_only
            .iter()
            .map(|f| index_of(f, "write_only"))
            .collect();
        let included: Vec<usize> = listed
            .into_iter()
            .filter(|i| !excluded.contains(i))
            .collect();
        for &i in &included {
            if meta.fields[i].name.contains("password") && !write_only.contains(&i) {
                write_only.push(i);
            }
        }
        let output: Vec<usize> = included
            .iter()
            .copied()
            .filter(|i| !write_only.contains(i))
            .collect();
        let writable: Vec<usize> = included
            .iter()
            .copied()
            .filter(|&i| {
                let field = &meta.fields[i];
                !read_only.contains(&i) && !field.is_auto()
            })
            .collect();
        let mut ignored_inputs: Vec<&'static str> = included
            .iter()
            .filter(|i| !writable.contains(i))
            .map(|&i| meta.fields[i].name)
            .collect();
        ignored_inputs.extend(self.computed.iter().map(|c| c.name));
        ignored_inputs.extend(many.iter().filter(|m| !m.writable).map(|m| m.meta.name));
        if self.actions.contains(&Action::Create) && self.on_create.is_none() {
            let missing: Vec<&str> = meta
                .fields
                .iter()
                .enumerate()
                .filter(|(i, f)| !writable.contains(i) && needs_server_value(f))
                .map(|(_, f)| f.name)
                .collect();
            assert!(
                missing.is_empty(),
                "API resource `{resource}` cannot create a {}: {} cannot be sent by clients and \
                 has no default. Set it with .on_create(|row, user| ...), give it \
                 #[model(default = ..)], or leave create out with .actions(..)",
                meta.name,
                missing.join(", ")
            );
        }
        let nested = self
            .nested
            .iter()
            .map(|(field, fields)| {
                let index = index_of(field, "nested");
                let relation = meta.fields[index].relation.as_ref().unwrap_or_else(|| {
                    panic!("API resource `{resource}`: nested `{field}` is not a foreign key")
                });
                let target = (relation.target)();
                let fields = fields
                    .iter()
                    .map(|name| {
                        target
                            .fields
                            .iter()
                            .position(|f| f.name == *name)
                            .unwrap_or_else(|| {
                                panic!(
                                    "API resource `{resource}`: nested `{field}` shows `{name}`, \
                                     which is not a field of {}",
                                    target.name
                                )
                            })
                    })
                    .collect();
                Nested {
                    index,
                    target,
                    fields,
                }
            })
            .collect();
        let filters: Vec<usize> = self
            .filter_fields
            .iter()
            .map(|f| {
                let index = index_of(f, "filter_fields");
                assert!(
                    !crate::query::lookups_for(&meta.fields[index]).is_empty(),
                    "API resource `{resource}`: `{f}` holds JSON or bytes and cannot be filtered"
                );
                index
            })
            .collect();
        for field in &self.search_fields {
            if let Err(err) = Condition::<M>::field_icontains(field, "") {
                panic!("API resource `{resource}`: search_fields: {err}");
            }
        }
        for field in &self.ordering_fields {
            index_of(field, "ordering_fields");
        }
        let default_ordering: Vec<String> = match &self.ordering {
            Some(fields) => {
                for field in fields {
                    index_of(field.trim_start_matches('-'), "ordering");
                }
                fields.iter().map(|f| (*f).to_owned()).collect()
            }
            None => meta
                .ordering
                .iter()
                .map(|(name, descending)| format!("{}{name}", if *descending { "-" } else { "" }))
                .collect(),
        };
        let cursor_ordering = default_ordering
            .first()
            .cloned()
            .unwrap_or_else(|| meta.pk().name.to_owned());
        if let Pagination::Cursor { .. } = self.pagination {
            assert!(
                self.ordering_fields.is_empty(),
                "API resource `{resource}`: cursor pagination keeps one order, so \
                 ordering_fields cannot apply; remove them or use Pagination::PageNumber"
            );
            let field = &meta.fields[index_of(cursor_ordering.trim_start_matches('-'), "ordering")];
            assert!(
                !field.null && !matches!(field.field_type, FieldType::Json | FieldType::Bytes),
                "API resource `{resource}`: cursor pagination orders by `{}`, which must be a \
                 field that is never NULL; choose one with .ordering(&[\"-created\"])",
                field.name
            );
        }
        let (page_size, max_page_size) = self.pagination.sizes();
        assert!(
            page_size >= 1 && max_page_size >= page_size,
            "API resource `{resource}`: page_size must be at least 1 and at most max_page_size"
        );
        for action in &self.custom {
            assert!(
                !action.name.is_empty()
                    && action
                        .name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "API resource `{resource}`: action name {:?} must be letters, digits, - and _",
                action.name
            );
        }
        Compiled {
            name: self.name,
            actions: self.actions,
            serializer: Serializer {
                meta,
                output,
                writable,
                write_only,
                computed: self.computed,
                nested,
                many,
                ignored_inputs,
            },
            query: QueryOptions {
                filters,
                search: self.search_fields,
                ordering: self.ordering_fields,
                default_ordering,
                pagination: self.pagination,
                cursor_ordering,
            },
            permission: self.permission,
            validators: self.validators,
            on_create: self.on_create,
            scope: self.scope,
            custom: self.custom,
            description: self.description,
            throttles: self.throttles,
            app_label: OnceLock::new(),
            model_lowercase: meta.name.to_lowercase(),
        }
    }
}
