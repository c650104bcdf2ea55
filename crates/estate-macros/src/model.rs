//! `#[derive(Model)]`: parse the struct and its options, emit `ModelMeta`,
//! column constants and the `Model` impl.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr, Fields, Ident, LitStr, Type};

/// Options on the struct.
#[derive(Default)]
struct ModelOptions {
    table: Option<String>,
    ordering: Vec<(String, bool, Span)>,
    verbose_name: Option<String>,
    verbose_name_plural: Option<String>,
    krate: Option<syn::Path>,
    /// Field-name lists that are unique together.
    unique_together: Vec<(Vec<String>, Span)>,
    /// Field-name lists to index.
    indexes: Vec<(Vec<String>, Span)>,
    /// SQL check conditions.
    checks: Vec<String>,
}

/// One field and its options.
pub(crate) struct FieldSpec {
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
    pub(crate) column: String,
    pub(crate) primary_key: bool,
    pub(crate) unique: bool,
    pub(crate) index: bool,
    pub(crate) max_length: Option<u32>,
    pub(crate) max_digits: Option<u32>,
    pub(crate) decimal_places: Option<u32>,
    pub(crate) default: Option<Expr>,
    pub(crate) verbose_name: Option<String>,
    pub(crate) help_text: Option<String>,
    pub(crate) on_delete: Option<Ident>,
    pub(crate) related_name: Option<String>,
    /// The linked model, for `ManyToMany<T>` fields (which have no column).
    pub(crate) many_to_many: Option<Type>,
    /// A custom through model, and its fields pointing at (this, the target).
    pub(crate) through: Option<(Type, Ident, Ident)>,
    pub(crate) through_span: Option<Span>,
    /// The generated through table's name.
    pub(crate) db_table: Option<String>,
}

/// The `on_delete` rules (the variants of `OnDelete`).
const ON_DELETE: &[&str] = &[
    "Cascade",
    "Protect",
    "Restrict",
    "SetNull",
    "SetDefault",
    "DoNothing",
];

pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "#[derive(Model)] does not support generic structs",
        ));
    }
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "#[derive(Model)] works on structs with named fields",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new(
            input.ident.span(),
            "#[derive(Model)] needs named fields (struct Question { id: Auto<i64>, ... })",
        ));
    };
    let options = parse_model_options(input)?;
    let all = named
        .named
        .iter()
        .map(parse_field)
        .collect::<syn::Result<Vec<_>>>()?;
    // Many-to-many fields have no column: they are described apart.
    let (links, fields): (Vec<FieldSpec>, Vec<FieldSpec>) =
        all.into_iter().partition(|f| f.many_to_many.is_some());
    validate(input, &options, &fields)?;
    validate_links(&links)?;
    Ok(generate(input, &options, &fields, &links))
}

fn parse_model_options(input: &DeriveInput) -> syn::Result<ModelOptions> {
    let mut options = ModelOptions::default();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("model")) {
        attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            match key.as_str() {
                "table" => options.table = Some(meta.value()?.parse::<LitStr>()?.value()),
                "verbose_name" => {
                    options.verbose_name = Some(meta.value()?.parse::<LitStr>()?.value())
                }
                "verbose_name_plural" => {
                    options.verbose_name_plural = Some(meta.value()?.parse::<LitStr>()?.value())
                }
                "ordering" => {
                    let lit = meta.value()?.parse::<LitStr>()?;
                    options.ordering = parse_ordering(&lit.value())
                        .into_iter()
                        .map(|(name, desc)| (name, desc, lit.span()))
                        .collect();
                }
                "crate" => {
                    let lit = meta.value()?.parse::<LitStr>()?;
                    options.krate = Some(lit.parse()?);
                }
                "unique_together" => {
                    let lit = meta.value()?.parse::<LitStr>()?;
                    options.unique_together.push((name_list(&lit)?, lit.span()));
                }
                "index" => {
                    let lit = meta.value()?.parse::<LitStr>()?;
                    options.indexes.push((name_list(&lit)?, lit.span()));
                }
                "check" => {
                    let lit = meta.value()?.parse::<LitStr>()?;
                    if lit.value().trim().is_empty() {
                        return Err(syn::Error::new(lit.span(), "check needs an SQL condition"));
                    }
                    options.checks.push(lit.value());
                }
                _ => {
                    return Err(meta.error(format!(
                        "unknown model option `{key}`; expected one of: table, ordering, \
                         verbose_name, verbose_name_plural, unique_together, index, check, crate"
                    )));
                }
            }
            Ok(())
        })?;
    }
    Ok(options)
}

/// `"question, choice_text"` → `["question", "choice_text"]`.
fn name_list(lit: &LitStr) -> syn::Result<Vec<String>> {
    let names: Vec<String> = lit
        .value()
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if names.is_empty() {
        return Err(syn::Error::new(lit.span(), "name at least one field"));
    }
    Ok(names)
}

/// `"-pub_date, question_text"` → `[("pub_date", true), ("question_text", false)]`.
fn parse_ordering(text: &str) -> Vec<(String, bool)> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.strip_prefix('-') {
            Some(name) => (name.trim().to_owned(), true),
            None => (s.to_owned(), false),
        })
        .collect()
}

fn parse_field(field: &syn::Field) -> syn::Result<FieldSpec> {
    let ident = field.ident.clone().expect("named fields have names");
    let column = if is_relation(&field.ty) {
        format!("{ident}_id")
    } else {
        ident.to_string()
    };
    let mut spec = FieldSpec {
        column,
        ident,
        ty: field.ty.clone(),
        primary_key: is_auto(&field.ty),
        unique: is_one_to_one(&field.ty),
        index: false,
        max_length: None,
        max_digits: None,
        decimal_places: None,
        default: None,
        verbose_name: None,
        help_text: None,
        on_delete: None,
        related_name: None,
        many_to_many: many_to_many_target(&field.ty).cloned(),
        through: None,
        through_span: None,
        db_table: None,
    };
    let mut through_type: Option<Type> = None;
    let mut through_fields: Option<LitStr> = None;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("model")) {
        attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            match key.as_str() {
                "primary_key" => spec.primary_key = true,
                "unique" => spec.unique = true,
                "index" => spec.index = true,
                "db_column" => spec.column = meta.value()?.parse::<LitStr>()?.value(),
                "max_length" => spec.max_length = Some(parse_u32(&meta)?),
                "max_digits" => spec.max_digits = Some(parse_u32(&meta)?),
                "decimal_places" => spec.decimal_places = Some(parse_u32(&meta)?),
                "default" => spec.default = Some(meta.value()?.parse::<Expr>()?),
                "verbose_name" => {
                    spec.verbose_name = Some(meta.value()?.parse::<LitStr>()?.value())
                }
                "help_text" => spec.help_text = Some(meta.value()?.parse::<LitStr>()?.value()),
                "related_name" => {
                    spec.related_name = Some(meta.value()?.parse::<LitStr>()?.value())
                }
                "through" => {
                    spec.through_span = Some(meta.path.span());
                    through_type = Some(meta.value()?.parse::<Type>()?);
                }
                "through_fields" => through_fields = Some(meta.value()?.parse::<LitStr>()?),
                "db_table" => spec.db_table = Some(meta.value()?.parse::<LitStr>()?.value()),
                "on_delete" => {
                    let rule: Ident = meta.value()?.parse()?;
                    if !ON_DELETE.iter().any(|r| rule == r) {
                        return Err(syn::Error::new(
                            rule.span(),
                            format!(
                                "unknown on_delete `{rule}` on `{}`; expected one of: {}",
                                spec.ident,
                                ON_DELETE.join(", ")
                            ),
                        ));
                    }
                    spec.on_delete = Some(rule);
                }
                _ => {
                    return Err(meta.error(format!(
                        "unknown field option `{key}` on `{}`; expected one of: primary_key, \
                         unique, index, db_column, max_length, max_digits, decimal_places, \
                         default, verbose_name, help_text, on_delete, related_name, through, \
                         through_fields, db_table",
                        spec.ident
                    )));
                }
            }
            Ok(())
        })?;
    }
    match (through_type, through_fields) {
        (None, None) => {}
        (Some(model), Some(lit)) => {
            let names = name_list(&lit)?;
            let [source, target] = names.as_slice() else {
                return Err(syn::Error::new(
                    lit.span(),
                    format!(
                        "field `{}`: through_fields names two fields of the through model: \
                         the one pointing here, then the one pointing at the target",
                        spec.ident
                    ),
                ));
            };
            let ident = |name: &str| {
                syn::parse_str::<Ident>(name).map_err(|_| {
                    syn::Error::new(lit.span(), format!("`{name}` is not a field name"))
                })
            };
            spec.through = Some((model, ident(source)?, ident(target)?));
        }
        (Some(_), None) => {
            return Err(syn::Error::new(
                spec.through_span.unwrap_or_else(|| spec.ident.span()),
                format!(
                    "field `{}`: a through model needs through_fields = \"<field pointing here>, \
                     <field pointing at the target>\"",
                    spec.ident
                ),
            ));
        }
        (None, Some(lit)) => {
            return Err(syn::Error::new(
                lit.span(),
                format!(
                    "field `{}`: through_fields goes with through = Model",
                    spec.ident
                ),
            ));
        }
    }
    Ok(spec)
}

/// The linked model of a `ManyToMany<T>` field.
fn many_to_many_target(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "ManyToMany" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first() {
        Some(syn::GenericArgument::Type(inner)) => Some(inner),
        _ => None,
    }
}

fn parse_u32(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<u32> {
    let lit = meta.value()?.parse::<syn::LitInt>()?;
    let value: u32 = lit.base10_parse()?;
    if value == 0 {
        return Err(syn::Error::new(lit.span(), "must be greater than zero"));
    }
    Ok(value)
}

/// Whether the type is a relation (`ForeignKey<T>` or `Option<ForeignKey<T>>`),
/// whose column is named `<field>_id` like Django's.
fn is_relation(ty: &Type) -> bool {
    let Type::Path(path) = ty else {
        return false;
    };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    if last.ident == "ForeignKey" || last.ident == "OneToOne" {
        return true;
    }
    if last.ident == "Option" {
        if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
            if let Some(syn::GenericArgument::Type(inner)) = args.args.first() {
                return is_relation(inner);
            }
        }
    }
    false
}

/// Whether the type is `OneToOne<T>` (or an `Option` of it): a unique relation.
fn is_one_to_one(ty: &Type) -> bool {
    let Type::Path(path) = ty else {
        return false;
    };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    if last.ident == "OneToOne" {
        return true;
    }
    if last.ident == "Option" {
        if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
            if let Some(syn::GenericArgument::Type(inner)) = args.args.first() {
                return is_one_to_one(inner);
            }
        }
    }
    false
}

/// The model a relation type points at: `Question` in `ForeignKey<Question>`,
/// `OneToOne<Question>` or an `Option` of either.
fn relation_target(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let Some(syn::GenericArgument::Type(inner)) = args.args.first() else {
        return None;
    };
    if last.ident == "ForeignKey" || last.ident == "OneToOne" {
        Some(inner)
    } else if last.ident == "Option" {
        relation_target(inner)
    } else {
        None
    }
}

/// `question` → `Question`.
pub(crate) fn camel_case(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// Whether the type is `Auto<...>` (an auto-incrementing primary key).
fn is_auto(ty: &Type) -> bool {
    matches!(ty, Type::Path(path) if path.path.segments.last().is_some_and(|s| s.ident == "Auto"))
}

/// Options that make no sense on a many-to-many field, and the reverse.
fn validate_links(links: &[FieldSpec]) -> syn::Result<()> {
    for link in links {
        let column_options = [
            ("primary_key", link.primary_key),
            ("unique", link.unique),
            ("index", link.index),
            ("max_length", link.max_length.is_some()),
            ("max_digits", link.max_digits.is_some()),
            ("default", link.default.is_some()),
            ("on_delete", link.on_delete.is_some()),
            ("db_column", link.ident != link.column),
        ];
        if let Some((option, _)) = column_options.iter().find(|(_, set)| *set) {
            return Err(syn::Error::new(
                link.ident.span(),
                format!(
                    "field `{}`: `{option}` does not apply to a ManyToMany field (it has no \
                     column; its links live in a through table)",
                    link.ident
                ),
            ));
        }
        if link.through.is_some() && link.db_table.is_some() {
            return Err(syn::Error::new(
                link.ident.span(),
                format!(
                    "field `{}`: db_table names a generated through table; with through = ..., \
                     set the table on that model",
                    link.ident
                ),
            ));
        }
    }
    Ok(())
}

fn validate(input: &DeriveInput, options: &ModelOptions, fields: &[FieldSpec]) -> syn::Result<()> {
    for (names, span) in options.unique_together.iter().chain(&options.indexes) {
        for name in names {
            if !fields.iter().any(|f| f.ident == name) {
                return Err(syn::Error::new(
                    *span,
                    format!(
                        "`{name}` is not a column field of `{}` (unique_together and index \
                         name fields with a column)",
                        input.ident
                    ),
                ));
            }
        }
    }
    for field in fields {
        let misplaced = if field.through.is_some() {
            Some("through")
        } else if field.db_table.is_some() {
            Some("db_table")
        } else {
            None
        };
        if let Some(option) = misplaced {
            return Err(syn::Error::new(
                field.ident.span(),
                format!(
                    "field `{}`: `{option}` applies only to ManyToMany fields",
                    field.ident
                ),
            ));
        }
    }
    let keys: Vec<&FieldSpec> = fields.iter().filter(|f| f.primary_key).collect();
    match keys.len() {
        1 => {}
        0 => {
            return Err(syn::Error::new(
                input.ident.span(),
                format!(
                    "model `{}` has no primary key: add `pub id: Auto<i64>` or mark a field \
                     #[model(primary_key)]",
                    input.ident
                ),
            ));
        }
        _ => {
            return Err(syn::Error::new(
                keys[1].ident.span(),
                format!(
                    "model `{}` has more than one primary key (`{}` and `{}`)",
                    input.ident, keys[0].ident, keys[1].ident
                ),
            ));
        }
    }
    for (name, _, span) in &options.ordering {
        if !fields.iter().any(|f| f.ident == name) {
            return Err(syn::Error::new(
                *span,
                format!(
                    "ordering names `{name}`, which is not a field of `{}`",
                    input.ident
                ),
            ));
        }
    }
    for (i, field) in fields.iter().enumerate() {
        if let Some(other) = fields[..i].iter().find(|f| f.column == field.column) {
            return Err(syn::Error::new(
                field.ident.span(),
                format!(
                    "fields `{}` and `{}` both use column `{}`",
                    other.ident, field.ident, field.column
                ),
            ));
        }
        if field.on_delete.as_ref().is_some_and(|r| r == "SetDefault") && field.default.is_none() {
            return Err(syn::Error::new(
                field.ident.span(),
                format!(
                    "field `{}`: on_delete = SetDefault needs #[model(default = ...)]",
                    field.ident
                ),
            ));
        }
        if field.related_name.is_some() && field.on_delete.is_none() {
            return Err(syn::Error::new(
                field.ident.span(),
                format!(
                    "field `{}`: related_name applies to ForeignKey fields (with on_delete)",
                    field.ident
                ),
            ));
        }
        if field.max_digits.is_some() != field.decimal_places.is_some() {
            return Err(syn::Error::new(
                field.ident.span(),
                format!(
                    "field `{}`: give both max_digits and decimal_places",
                    field.ident
                ),
            ));
        }
        if let (Some(digits), Some(places)) = (field.max_digits, field.decimal_places) {
            if places > digits {
                return Err(syn::Error::new(
                    field.ident.span(),
                    format!(
                        "field `{}`: decimal_places ({places}) cannot exceed max_digits ({digits})",
                        field.ident
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `question_text` → `question text`.
pub(crate) fn humanize(name: &str) -> String {
    name.replace('_', " ")
}

/// `PollQuestion` → `poll_question`.
pub(crate) fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `<base>_<suffix>`, at most 63 characters (PostgreSQL's limit; MySQL's
/// is 64): a long name keeps its start and ends in a stable hash.
pub(crate) fn limited_name(base: &str, suffix: &str) -> String {
    const MAX: usize = 63;
    let name = format!("{base}_{suffix}");
    if name.len() <= MAX {
        return name;
    }
    // FNV-1a: stable across runs and platforms.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let tail = format!("_{:08x}_{suffix}", hash as u32);
    let mut keep = MAX - tail.len();
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}{tail}", &name[..keep])
}

fn opt_u32(value: Option<u32>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

fn generate(
    input: &DeriveInput,
    options: &ModelOptions,
    fields: &[FieldSpec],
    links: &[FieldSpec],
) -> TokenStream {
    let name = &input.ident;
    let krate = options
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::estate::orm));
    let model_name = name.to_string();
    let table = options
        .table
        .clone()
        .unwrap_or_else(|| snake_case(&model_name));
    let verbose_name = options
        .verbose_name
        .clone()
        .unwrap_or_else(|| humanize(&snake_case(&model_name)));
    let verbose_name_plural = options
        .verbose_name_plural
        .clone()
        .unwrap_or_else(|| format!("{verbose_name}s"));
    let pk_index = fields.iter().position(|f| f.primary_key).unwrap_or(0);
    let pk_ident = &fields[pk_index].ident;
    let pk_ty = &fields[pk_index].ty;
    let link_idents: Vec<&Ident> = links.iter().map(|l| &l.ident).collect();
    let links = crate::many::generate(&krate, name, &table, pk_ty, &input.vis, links);
    let link_metas = &links.metas;
    let link_constants = &links.constants;
    let link_loaders = &links.loaders;
    let link_items = &links.items;
    let constraints = options
        .unique_together
        .iter()
        .map(|(names, _)| {
            let constraint = limited_name(&format!("{table}_{}", names.join("_")), "uniq");
            quote! {
                #krate::Constraint {
                    name: #constraint,
                    kind: #krate::ConstraintKind::Unique(&[#(#names),*]),
                }
            }
        })
        .chain(options.checks.iter().map(|sql| {
            // Named by a hash of the condition: stable when checks are reordered.
            let hash = sql.bytes().fold(0x811c_9dc5u32, |h, b| {
                (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
            });
            let constraint = limited_name(&format!("{table}_{hash:08x}"), "check");
            quote! {
                #krate::Constraint {
                    name: #constraint,
                    kind: #krate::ConstraintKind::Check(#sql),
                }
            }
        }))
        .collect::<Vec<_>>();
    let indexes = options.indexes.iter().map(|(names, _)| {
        let index = limited_name(&format!("{table}_{}", names.join("_")), "idx");
        quote!(#krate::Index { name: #index, fields: &[#(#names),*] })
    });

    let metas = fields.iter().map(|f| {
        let ty = &f.ty;
        let field_name = f.ident.to_string();
        let column = &f.column;
        let primary_key = f.primary_key;
        let unique = f.unique || f.primary_key;
        // Foreign keys are indexed, as in Django.
        let index = f.index || f.on_delete.is_some();
        let max_length = match f.max_length {
            Some(n) => quote!(::core::option::Option::Some(#n)),
            None => quote!(<#ty as #krate::FieldValue>::MAX_LENGTH),
        };
        let max_digits = opt_u32(f.max_digits);
        let decimal_places = opt_u32(f.decimal_places);
        let verbose = f
            .verbose_name
            .clone()
            .unwrap_or_else(|| humanize(&field_name));
        let help = f.help_text.clone().unwrap_or_default();
        let default = match &f.default {
            Some(expr) => quote_spanned! {expr.span()=>
                ::core::option::Option::Some(|| {
                    let value: #ty = ::core::convert::Into::into(#expr);
                    <#ty as #krate::FieldValue>::to_value(&value)
                })
            },
            None => quote!(::core::option::Option::None),
        };
        let relation = match &f.on_delete {
            Some(rule) => {
                let message =
                    format!("field `{field_name}`: on_delete applies only to ForeignKey fields");
                let related_name = match &f.related_name {
                    Some(name) => quote!(::core::option::Option::Some(#name)),
                    None => quote!(::core::option::Option::None),
                };
                quote_spanned! {ty.span()=>
                    ::core::option::Option::Some(#krate::Relation {
                        target: match <#ty as #krate::FieldValue>::TARGET {
                            ::core::option::Option::Some(target) => target,
                            ::core::option::Option::None => ::core::panic!(#message),
                        },
                        on_delete: #krate::OnDelete::#rule,
                        related_name: #related_name,
                    })
                }
            }
            None => quote!(::core::option::Option::None),
        };
        quote! {
            #krate::FieldMeta {
                name: #field_name,
                column: #column,
                field_type: <#ty as #krate::FieldValue>::FIELD_TYPE,
                null: <#ty as #krate::FieldValue>::NULLABLE,
                primary_key: #primary_key,
                unique: #unique,
                index: #index,
                max_length: #max_length,
                max_digits: #max_digits,
                decimal_places: #decimal_places,
                default: #default,
                verbose_name: #verbose,
                help_text: #help,
                relation: #relation,
                choices: <#ty as #krate::FieldValue>::CHOICES,
                media_file: <#ty as #krate::FieldValue>::MEDIA_FILE,
            }
        }
    });

    let checks = fields.iter().map(|f| {
        let ty = &f.ty;
        let field = f.ident.to_string();
        let mut out = TokenStream::new();
        if f.max_length.is_some() {
            let message = format!("field `{field}`: `max_length` applies only to String fields");
            out.extend(quote_spanned! {ty.span()=>
                const _: () = ::core::assert!(<#ty as #krate::FieldValue>::ACCEPTS_MAX_LENGTH, #message);
            });
        }
        if f.max_digits.is_some() {
            let message = format!("field `{field}`: `max_digits`/`decimal_places` apply only to Decimal fields");
            out.extend(quote_spanned! {ty.span()=>
                const _: () = ::core::assert!(<#ty as #krate::FieldValue>::NEEDS_DIGITS, #message);
            });
        } else {
            let message = format!(
                "field `{field}`: Decimal fields need #[model(max_digits = .., decimal_places = ..)]"
            );
            out.extend(quote_spanned! {ty.span()=>
                const _: () = ::core::assert!(!<#ty as #krate::FieldValue>::NEEDS_DIGITS, #message);
            });
        }
        if f.on_delete.is_none() {
            let message = format!(
                "field `{field}`: a ForeignKey needs #[model(on_delete = ...)]: one of {}",
                ON_DELETE.join(", ")
            );
            out.extend(quote_spanned! {ty.span()=>
                const _: () = ::core::assert!(<#ty as #krate::FieldValue>::TARGET.is_none(), #message);
            });
        }
        if f.on_delete.is_some() {
            let message = format!("field `{field}`: on_delete applies only to ForeignKey fields");
            out.extend(quote_spanned! {ty.span()=>
                const _: () = ::core::assert!(<#ty as #krate::FieldValue>::TARGET.is_some(), #message);
            });
        }
        if f.on_delete.as_ref().is_some_and(|r| r == "SetNull") {
            let message = format!("field `{field}`: on_delete = SetNull needs an Option<ForeignKey<_>> field");
            out.extend(quote_spanned! {ty.span()=>
                const _: () = ::core::assert!(<#ty as #krate::FieldValue>::NULLABLE, #message);
            });
        }
        if f.primary_key {
            let message = format!("field `{field}`: a primary key cannot be Option<_>");
            out.extend(quote_spanned! {ty.span()=>
                const _: () = ::core::assert!(!<#ty as #krate::FieldValue>::NULLABLE, #message);
            });
        }
        out
    });

    let ordering = options
        .ordering
        .iter()
        .map(|(field, desc, _)| quote!((#field, #desc)));

    let reads = fields.iter().enumerate().map(|(i, f)| {
        let ident = &f.ident;
        let ty = &f.ty;
        quote!(#ident: <#ty as #krate::FieldValue>::from_row(row, offset + #i)?)
    });
    let value_reads = fields.iter().map(|f| {
        let ident = &f.ident;
        let ty = &f.ty;
        let field_name = f.ident.to_string();
        quote! {
            #ident: <#ty as #krate::FieldValue>::from_value(
                values.next().ok_or_else(|| #krate::DbError::validation(#field_name, "no value given"))?,
            ).map_err(|message| #krate::DbError::validation(#field_name, message))?
        }
    });
    let value_sets = fields.iter().enumerate().map(|(i, f)| {
        let ident = &f.ident;
        let ty = &f.ty;
        let field_name = f.ident.to_string();
        quote! {
            #i => {
                self.#ident = <#ty as #krate::FieldValue>::from_value(value)
                    .map_err(|message| #krate::DbError::validation(#field_name, message))?;
            }
        }
    });
    let field_checks = fields.iter().map(|f| {
        let ident = &f.ident;
        let ty = &f.ty;
        let field_name = f.ident.to_string();
        quote! {
            <#ty as #krate::FieldValue>::check(&self.#ident)
                .map_err(|message| #krate::DbError::validation(#field_name, message))?;
        }
    });
    let writes = fields.iter().map(|f| {
        let ident = &f.ident;
        let ty = &f.ty;
        quote!(<#ty as #krate::FieldValue>::to_value(&self.#ident))
    });
    let loaders = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.on_delete.is_some())
        .map(|(i, f)| {
            let ident = &f.ident;
            let ty = &f.ty;
            quote!(#i => <#ty as #krate::FieldValue>::set_loaded(&mut self.#ident, value),)
        });

    let constants = fields.iter().enumerate().map(|(i, f)| {
        let ty = &f.ty;
        let constant = format_ident!("{}", f.ident.to_string().to_uppercase());
        let doc = format!("The `{}` column, for queries.", f.ident);
        quote! {
            #[doc = #doc]
            pub const #constant: #krate::Col<#name, #ty> = #krate::Col::new(#i);
        }
    });

    let vis = &input.vis;
    let reverse_accessors = fields.iter().filter_map(|f| {
        let related_name = f.related_name.as_ref()?;
        let target = relation_target(&f.ty)?;
        let method = format_ident!("{}", related_name, span = f.ident.span());
        let trait_name = format_ident!("{}{}Reverse", name, camel_case(&f.ident.to_string()));
        let constant = format_ident!("{}", f.ident.to_string().to_uppercase());
        let doc = format!(
            "The reverse of `{name}::{}`: `{related_name}()` on the model it points at \
             gives the `{name}` rows pointing there. Bring the trait into scope to call it.",
            f.ident
        );
        let method_doc = format!("The `{name}` rows whose `{}` points at this row.", f.ident);
        Some(quote! {
            #[doc = #doc]
            #vis trait #trait_name {
                #[doc = #method_doc]
                fn #method(&self) -> #krate::QuerySet<#name>;
            }

            impl #trait_name for #target {
                #[track_caller]
                fn #method(&self) -> #krate::QuerySet<#name> {
                    #krate::Model::related(self, #name::#constant)
                }
            }
        })
    });

    quote! {
        #(#checks)*

        #(#reverse_accessors)*

        impl #krate::Model for #name {
            const META: &'static #krate::ModelMeta = &#krate::ModelMeta {
                name: #model_name,
                table: #table,
                fields: &[#(#metas),*],
                primary_key: #pk_index,
                ordering: &[#(#ordering),*],
                verbose_name: #verbose_name,
                verbose_name_plural: #verbose_name_plural,
                many_to_many: &[#(#link_metas),*],
                constraints: &[#(#constraints),*],
                indexes: &[#(#indexes),*],
            };

            fn from_row_at(row: &#krate::Row, offset: usize) -> ::core::result::Result<Self, #krate::DbError> {
                ::core::result::Result::Ok(Self {
                    #(#reads,)*
                    #(#link_idents: ::core::default::Default::default(),)*
                })
            }

            fn from_values(values: ::std::vec::Vec<#krate::Value>) -> ::core::result::Result<Self, #krate::DbError> {
                let mut values = values.into_iter();
                ::core::result::Result::Ok(Self {
                    #(#value_reads,)*
                    #(#link_idents: ::core::default::Default::default(),)*
                })
            }

            fn set_value(&mut self, index: usize, value: #krate::Value) -> ::core::result::Result<(), #krate::DbError> {
                match index {
                    #(#value_sets)*
                    _ => return ::core::result::Result::Err(#krate::DbError::validation(
                        Self::META.name,
                        ::std::format!("{} has no field number {index}", Self::META.name),
                    )),
                }
                ::core::result::Result::Ok(())
            }

            fn check_fields(&self) -> ::core::result::Result<(), #krate::DbError> {
                #(#field_checks)*
                ::core::result::Result::Ok(())
            }

            fn to_values(&self) -> ::std::vec::Vec<#krate::Value> {
                ::std::vec![#(#writes),*]
            }

            type Key = <#pk_ty as #krate::PrimaryKey>::Key;

            fn key(&self) -> ::core::option::Option<Self::Key> {
                <#pk_ty as #krate::PrimaryKey>::key(&self.#pk_ident)
            }

            fn set_related(&mut self, index: usize, value: ::std::boxed::Box<dyn ::core::any::Any + ::core::marker::Send>) {
                match index {
                    #(#loaders)*
                    _ => {}
                }
            }

            fn set_many_related(&mut self, index: usize, value: ::std::boxed::Box<dyn ::core::any::Any + ::core::marker::Send>) {
                match index {
                    #(#link_loaders)*
                    _ => {}
                }
            }

            fn pk_value(&self) -> #krate::Value {
                <#pk_ty as #krate::FieldValue>::to_value(&self.#pk_ident)
            }

            fn set_generated_pk(&mut self, id: i64) {
                <#pk_ty as #krate::FieldValue>::set_generated(&mut self.#pk_ident, id)
            }
        }

        #[allow(missing_docs)]
        impl #name {
            #(#constants)*
            #(#link_constants)*
        }

        #(#link_items)*
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_strings() {
        assert_eq!(
            parse_ordering("-pub_date, question_text"),
            vec![
                ("pub_date".to_owned(), true),
                ("question_text".to_owned(), false)
            ]
        );
        assert!(parse_ordering("").is_empty());
    }

    #[test]
    fn names() {
        assert_eq!(snake_case("PollQuestion"), "poll_question");
        assert_eq!(snake_case("Choice"), "choice");
        assert_eq!(humanize("question_text"), "question text");
    }

    #[test]
    fn models_need_exactly_one_primary_key() {
        let input: DeriveInput = syn::parse_quote! {
            struct Note { body: String }
        };
        let err = expand(&input).unwrap_err().to_string();
        assert!(err.contains("model `Note` has no primary key"), "{err}");

        let input: DeriveInput = syn::parse_quote! {
            #[model(ordering = "-missing")]
            struct Note { id: Auto<i64>, body: String }
        };
        let err = expand(&input).unwrap_err().to_string();
        assert!(err.contains("ordering names `missing`"), "{err}");
    }

    #[test]
    fn unknown_options_list_the_known_ones() {
        let input: DeriveInput = syn::parse_quote! {
            struct Note { id: Auto<i64>, #[model(maxlength = 3)] body: String }
        };
        let err = expand(&input).unwrap_err().to_string();
        assert!(
            err.contains("unknown field option `maxlength` on `body`"),
            "{err}"
        );
    }
}
