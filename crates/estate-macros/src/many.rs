//! Code for `ManyToMany<T>` fields: their `ManyToManyMeta`, the generated
//! through table's `ModelMeta`, the `Article::TAGS` handle, and the
//! reverse accessor named by `related_name`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Type};

use crate::model::{FieldSpec, camel_case, humanize, limited_name, snake_case};

/// The pieces a model's many-to-many fields add to the derive's output.
#[derive(Default)]
pub(crate) struct Links {
    /// `ManyToManyMeta` literals for `ModelMeta::many_to_many`.
    pub(crate) metas: Vec<TokenStream>,
    /// Items in the model's inherent impl: constants and through metas.
    pub(crate) constants: Vec<TokenStream>,
    /// Match arms for `Model::set_many_related`.
    pub(crate) loaders: Vec<TokenStream>,
    /// Items at module level: checks and reverse-accessor traits.
    pub(crate) items: Vec<TokenStream>,
}

/// The last identifier of a type path: `Tag` in `crate::tags::Tag`.
fn type_name(ty: &Type) -> String {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

pub(crate) fn generate(
    krate: &syn::Path,
    model: &Ident,
    table: &str,
    pk_ty: &Type,
    vis: &syn::Visibility,
    links: &[FieldSpec],
) -> Links {
    let mut out = Links::default();
    for (i, link) in links.iter().enumerate() {
        let target = link.many_to_many.as_ref().expect("only ManyToMany fields");
        let field = &link.ident;
        let field_name = field.to_string();
        let constant = format_ident!("{}", field_name.to_uppercase());
        let verbose = link
            .verbose_name
            .clone()
            .unwrap_or_else(|| humanize(&field_name));
        let help = link.help_text.clone().unwrap_or_default();
        let related_name = match &link.related_name {
            Some(name) => quote!(::core::option::Option::Some(#name)),
            None => quote!(::core::option::Option::None),
        };

        let (through, source_column, target_column, auto_created) = match &link.through {
            Some((through, source, target_field)) => {
                let source_const = format_ident!("{}", source.to_string().to_uppercase());
                let target_const = format_ident!("{}", target_field.to_string().to_uppercase());
                let check = format_ident!(
                    "__estate_check_{}_{}",
                    snake_case(&model.to_string()),
                    field
                );
                // The named fields must point here and at the target.
                out.items.push(quote_spanned! {through.span()=>
                    #[allow(non_snake_case, dead_code)]
                    fn #check() {
                        fn points_at_source<F: #krate::RelationField<Target = #model>>(_: #krate::Col<#through, F>) {}
                        fn points_at_target<F: #krate::RelationField<Target = #target>>(_: #krate::Col<#through, F>) {}
                        points_at_source(#through::#source_const);
                        points_at_target(#through::#target_const);
                    }
                });
                (
                    quote!(#krate::meta_of::<#through>),
                    quote!(<#through as #krate::Model>::META.fields[#through::#source_const.index()].column),
                    quote!(<#through as #krate::Model>::META.fields[#through::#target_const.index()].column),
                    false,
                )
            }
            None => {
                let through_table = link
                    .db_table
                    .clone()
                    .unwrap_or_else(|| format!("{table}_{field_name}"));
                let source = snake_case(&model.to_string());
                let target_snake = snake_case(&type_name(target));
                let (source_field, target_field) = if source == target_snake {
                    (format!("from_{source}"), format!("to_{target_snake}"))
                } else {
                    (source, target_snake)
                };
                let source_column = format!("{source_field}_id");
                let target_column = format!("{target_field}_id");
                let through_name = format!("{model}_{field_name}");
                let unique_name = limited_name(
                    &format!("{through_table}_{source_field}_{target_field}"),
                    "uniq",
                );
                let relationship = format!(
                    "{}-{} relationship",
                    humanize(&snake_case(&model.to_string())),
                    humanize(&snake_case(&type_name(target)))
                );
                let relationships = format!("{relationship}s");
                let through_const = format_ident!("__ESTATE_THROUGH_{}", field_name.to_uppercase());
                let key_field =
                    |name: &str, column: &str, key: TokenStream, points_at: TokenStream| {
                        quote! {
                            #krate::FieldMeta {
                                name: #name,
                                column: #column,
                                field_type: <#key as #krate::FieldValue>::FIELD_TYPE,
                                null: false,
                                primary_key: false,
                                unique: false,
                                index: true,
                                max_length: ::core::option::Option::None,
                                max_digits: ::core::option::Option::None,
                                decimal_places: ::core::option::Option::None,
                                default: ::core::option::Option::None,
                                verbose_name: #name,
                                help_text: "",
                                relation: ::core::option::Option::Some(#krate::Relation {
                                    target: #krate::meta_of::<#points_at>,
                                    on_delete: #krate::OnDelete::Cascade,
                                    related_name: ::core::option::Option::None,
                                }),
                                choices: ::core::option::Option::None,
                                media_file: false,
                            }
                        }
                    };
                let source_meta = key_field(
                    &source_field,
                    &source_column,
                    quote!(<#pk_ty as #krate::PrimaryKey>::Key),
                    quote!(#model),
                );
                let target_meta = key_field(
                    &target_field,
                    &target_column,
                    quote!(<#target as #krate::Model>::Key),
                    quote!(#target),
                );
                out.constants.push(quote! {
                    #[doc(hidden)]
                    pub const #through_const: &'static #krate::ModelMeta = &#krate::ModelMeta {
                        name: #through_name,
                        table: #through_table,
                        fields: &[
                            #krate::FieldMeta {
                                name: "id",
                                column: "id",
                                field_type: #krate::FieldType::AutoBigInt,
                                null: false,
                                primary_key: true,
                                unique: true,
                                index: false,
                                max_length: ::core::option::Option::None,
                                max_digits: ::core::option::Option::None,
                                decimal_places: ::core::option::Option::None,
                                default: ::core::option::Option::None,
                                verbose_name: "ID",
                                help_text: "",
                                relation: ::core::option::Option::None,
                                choices: ::core::option::Option::None,
                                media_file: false,
                            },
                            #source_meta,
                            #target_meta,
                        ],
                        primary_key: 0,
                        ordering: &[],
                        verbose_name: #relationship,
                        verbose_name_plural: #relationships,
                        many_to_many: &[],
                        constraints: &[#krate::Constraint {
                            name: #unique_name,
                            kind: #krate::ConstraintKind::Unique(&[#source_field, #target_field]),
                        }],
                        indexes: &[],
                    };
                });
                (
                    quote!(|| #model::#through_const),
                    quote!(#source_column),
                    quote!(#target_column),
                    true,
                )
            }
        };

        out.metas.push(quote! {
            #krate::ManyToManyMeta {
                name: #field_name,
                source: #krate::meta_of::<#model>,
                target: #krate::meta_of::<#target>,
                through: #through,
                source_column: #source_column,
                target_column: #target_column,
                auto_created: #auto_created,
                related_name: #related_name,
                verbose_name: #verbose,
                help_text: #help,
            }
        });
        let doc = format!("The `{field_name}` many-to-many relation, to query and change links.");
        out.constants.push(quote! {
            #[doc = #doc]
            pub const #constant: #krate::ManyToManyField<#model, #target> = #krate::ManyToManyField::new(#i);
        });
        out.loaders
            .push(quote!(#i => self.#field.set_loaded(value),));

        if let Some(related_name) = &link.related_name {
            let method = format_ident!("{}", related_name, span = field.span());
            let trait_name = format_ident!("{}{}Reverse", model, camel_case(&field_name));
            let doc = format!(
                "The reverse of `{model}::{field_name}`: `{related_name}()` on a `{}` gives the \
                 `{model}` rows linked to it. Bring the trait into scope to call it.",
                type_name(target)
            );
            let method_doc = format!("The `{model}` rows linked to this row by `{field_name}`.");
            out.items.push(quote! {
                #[doc = #doc]
                #vis trait #trait_name {
                    #[doc = #method_doc]
                    fn #method(&self) -> #krate::QuerySet<#model>;
                }

                impl #trait_name for #target {
                    #[track_caller]
                    fn #method(&self) -> #krate::QuerySet<#model> {
                        #model::#constant.reverse_of(self)
                    }
                }
            });
        }
    }
    out
}
