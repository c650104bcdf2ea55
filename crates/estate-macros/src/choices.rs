//! `#[derive(Choices)]`: a fieldless enum becomes a model field type whose
//! variants are the allowed values, stored as text (default: the variant's
//! snake_case name) or as integers (when every variant has one).

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, Lit, LitStr};

use crate::model::{humanize, snake_case};

/// A variant's stored value.
enum Stored {
    Text(String),
    Int(i32),
}

struct Variant {
    ident: Ident,
    value: Option<Stored>,
    label: Option<String>,
}

/// A stored value written as a string, an integer or a negative integer.
fn stored_value(expr: &syn::Expr) -> syn::Result<Stored> {
    match expr {
        syn::Expr::Lit(lit) => match &lit.lit {
            Lit::Str(text) => Ok(Stored::Text(text.value())),
            Lit::Int(number) => Ok(Stored::Int(number.base10_parse()?)),
            other => Err(syn::Error::new(
                other.span(),
                "a choice value is a string or an integer",
            )),
        },
        syn::Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Neg(_)) => {
            match stored_value(&unary.expr)? {
                Stored::Int(n) => Ok(Stored::Int(-n)),
                Stored::Text(_) => Err(syn::Error::new(
                    unary.span(),
                    "a choice value is a string or an integer",
                )),
            }
        }
        other => Err(syn::Error::new(
            other.span(),
            "a choice value is a literal string or integer (like \"pub\" or -1)",
        )),
    }
}

pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "#[derive(Choices)] works on enums whose variants have no fields",
        ));
    };
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "#[derive(Choices)] does not support generic enums",
        ));
    }
    if data.variants.is_empty() {
        return Err(syn::Error::new(
            input.ident.span(),
            "a Choices enum needs at least one variant",
        ));
    }
    let mut krate: syn::Path = syn::parse_quote!(::estate::orm);
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("choices")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                krate = meta.value()?.parse::<LitStr>()?.parse()?;
                Ok(())
            } else {
                Err(meta.error("unknown choices option; expected: crate"))
            }
        })?;
    }
    let mut variants = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            return Err(syn::Error::new(
                variant.ident.span(),
                format!(
                    "variant `{}` has fields; a Choices enum's variants are plain names",
                    variant.ident
                ),
            ));
        }
        let mut parsed = Variant {
            ident: variant.ident.clone(),
            value: None,
            label: None,
        };
        if let Some((_, discriminant)) = &variant.discriminant {
            parsed.value = Some(stored_value(discriminant)?);
        }
        for attr in variant.attrs.iter().filter(|a| a.path().is_ident("choice")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("value") {
                    parsed.value = Some(stored_value(&meta.value()?.parse::<syn::Expr>()?)?);
                    Ok(())
                } else if meta.path.is_ident("label") {
                    parsed.label = Some(meta.value()?.parse::<LitStr>()?.value());
                    Ok(())
                } else {
                    Err(meta.error(format!(
                        "unknown choice option on `{}`; expected value or label",
                        parsed.ident
                    )))
                }
            })?;
        }
        variants.push(parsed);
    }
    let ints = variants
        .iter()
        .filter(|v| matches!(v.value, Some(Stored::Int(_))))
        .count();
    if ints > 0 && ints < variants.len() {
        let odd = variants
            .iter()
            .find(|v| !matches!(v.value, Some(Stored::Int(_))))
            .expect("some variant is not an integer");
        return Err(syn::Error::new(
            odd.ident.span(),
            format!(
                "variant `{}` needs an integer value like the others (#[choice(value = 3)]): \
                 a Choices enum is stored either as text or as integers",
                odd.ident
            ),
        ));
    }
    let as_int = ints > 0;
    // Duplicate stored values would make reading ambiguous.
    let stored: Vec<String> = variants
        .iter()
        .map(|v| match &v.value {
            Some(Stored::Int(n)) => n.to_string(),
            Some(Stored::Text(t)) => t.clone(),
            None => snake_case(&v.ident.to_string()),
        })
        .collect();
    for (i, value) in stored.iter().enumerate() {
        if stored[..i].contains(value) {
            return Err(syn::Error::new(
                variants[i].ident.span(),
                format!("two variants are stored as `{value}`: give each its own value"),
            ));
        }
    }
    let default_crate =
        quote::ToTokens::to_token_stream(&krate).to_string() == quote!(::estate::orm).to_string();
    let mut tokens = generate(input, &krate, &variants, &stored, as_int);
    // Through the `estate` facade the enum is also a form field type (a
    // select of its labels); the bare ORM crate has no forms.
    if default_crate {
        let name = &input.ident;
        tokens.extend(quote! {
            impl ::estate::forms::FormValue for #name {
                fn form_field(name: &str) -> ::estate::forms::FormField {
                    ::estate::forms::FormField::for_type::<Self>(name)
                }

                fn from_input(
                    input: ::estate::forms::FormInput,
                ) -> ::core::result::Result<Self, ::std::string::String> {
                    ::estate::forms::from_value_input(input)
                }

                fn initial_value(&self) -> ::core::option::Option<::estate::orm::Value> {
                    ::core::option::Option::Some(<Self as ::estate::orm::FieldValue>::to_value(self))
                }
            }
        });
    }
    Ok(tokens)
}

fn generate(
    input: &DeriveInput,
    krate: &syn::Path,
    variants: &[Variant],
    stored: &[String],
    as_int: bool,
) -> TokenStream {
    let name = &input.ident;
    let enum_name = name.to_string();
    let idents: Vec<&Ident> = variants.iter().map(|v| &v.ident).collect();
    let labels: Vec<String> = variants
        .iter()
        .map(|v| {
            v.label.clone().unwrap_or_else(|| {
                let text = humanize(&snake_case(&v.ident.to_string()));
                let mut chars = text.chars();
                chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect())
                    .unwrap_or_default()
            })
        })
        .collect();
    let names: Vec<String> = idents.iter().map(|i| i.to_string()).collect();
    let (values, field_type, kind, to_value, from_row, max_length): (
        Vec<TokenStream>,
        TokenStream,
        TokenStream,
        TokenStream,
        TokenStream,
        TokenStream,
    ) = if as_int {
        let numbers: Vec<i32> = stored.iter().map(|s| s.parse().unwrap_or(0)).collect();
        (
            numbers
                .iter()
                .map(|n| quote!(#krate::ChoiceValue::Int(#n)))
                .collect(),
            quote!(#krate::FieldType::Int),
            quote!(#krate::Kind::I32),
            quote! {
                #krate::Value::I32(match self { #(#name::#idents => #numbers),* })
            },
            quote! {
                let raw: i32 = row.get(index)?;
                match raw {
                    #(#numbers => ::core::result::Result::Ok(#name::#idents),)*
                    other => ::core::result::Result::Err(#krate::unknown_choice(#enum_name, &other, <Self as #krate::Choices>::CHOICES)),
                }
            },
            quote!(::core::option::Option::None),
        )
    } else {
        let longest = stored.iter().map(|s| s.chars().count()).max().unwrap_or(1) as u32;
        (
            stored
                .iter()
                .map(|s| quote!(#krate::ChoiceValue::Text(#s)))
                .collect(),
            quote!(#krate::FieldType::String),
            quote!(#krate::Kind::String),
            quote! {
                #krate::Value::String(::std::string::String::from(match self { #(#name::#idents => #stored),* }))
            },
            quote! {
                let raw: ::std::string::String = row.get(index)?;
                match raw.as_str() {
                    #(#stored => ::core::result::Result::Ok(#name::#idents),)*
                    other => ::core::result::Result::Err(#krate::unknown_choice(#enum_name, &other, <Self as #krate::Choices>::CHOICES)),
                }
            },
            quote!(::core::option::Option::Some(#longest)),
        )
    };
    let accepts_max_length = !as_int;
    quote! {
        impl #krate::Choices for #name {
            const CHOICES: &'static [#krate::Choice] = &[
                #(#krate::Choice { value: #values, label: #labels, name: #names }),*
            ];

            fn label(&self) -> &'static str {
                match self { #(#name::#idents => #labels),* }
            }

            fn value(&self) -> #krate::ChoiceValue {
                match self { #(#name::#idents => #values),* }
            }

            fn from_value(value: #krate::ChoiceValue) -> ::core::option::Option<Self> {
                #(if value == #values { return ::core::option::Option::Some(#name::#idents); })*
                ::core::option::Option::None
            }
        }

        impl #krate::FieldValue for #name {
            const FIELD_TYPE: #krate::FieldType = #field_type;
            const KIND: #krate::Kind = #kind;
            const ACCEPTS_MAX_LENGTH: bool = #accepts_max_length;
            const CHOICES: ::core::option::Option<&'static [#krate::Choice]> =
                ::core::option::Option::Some(<Self as #krate::Choices>::CHOICES);
            const MAX_LENGTH: ::core::option::Option<u32> = #max_length;
            type Plain = Self;

            fn to_value(&self) -> #krate::Value {
                #to_value
            }

            fn from_row(row: &#krate::Row, index: usize) -> ::core::result::Result<Self, #krate::DbError> {
                #from_row
            }

            fn from_value(value: #krate::Value) -> ::core::result::Result<Self, ::std::string::String> {
                let stored = match &value {
                    #krate::Value::I32(number) => ::core::option::Option::Some(#krate::ChoiceValue::Int(*number)),
                    #krate::Value::String(text) => <Self as #krate::Choices>::CHOICES
                        .iter()
                        .map(|choice| choice.value)
                        .find(|choice| matches!(choice, #krate::ChoiceValue::Text(t) if *t == text.as_str())),
                    _ => ::core::option::Option::None,
                };
                stored
                    .and_then(<Self as #krate::Choices>::from_value)
                    .ok_or_else(|| ::std::format!("{:?} is not one of the choices of {}", value, #enum_name))
            }
        }

        impl ::core::fmt::Display for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(#krate::Choices::label(self))
            }
        }
    }
}
