//! `#[derive(Form)]`: one `FormField` per struct field (kind from the type's
//! model-field metadata, options from `#[form(...)]`), and the conversion of
//! cleaned values back into the struct. Validation itself is library code.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr, Fields, LitStr, Path};

/// Widget names `Widget::from_name` knows (lowercase, without `_`/`-`).
const WIDGETS: &[&str] = &[
    "text",
    "textinput",
    "email",
    "emailinput",
    "url",
    "urlinput",
    "number",
    "numberinput",
    "password",
    "passwordinput",
    "textarea",
    "checkbox",
    "checkboxinput",
    "select",
    "radio",
    "radioselect",
    "date",
    "dateinput",
    "time",
    "timeinput",
    "datetime",
    "datetimeinput",
    "datetimelocal",
    "hidden",
    "hiddeninput",
    "file",
    "fileinput",
];

const FIELD_OPTIONS: &str = "label, help_text, widget, max_length, min_length, min, max, \
                             max_digits, decimal_places, email, url, slug, required, initial, \
                             validator";

struct FieldSpec {
    ident: syn::Ident,
    ty: syn::Type,
    /// Builder calls applied to the field, in order.
    calls: Vec<TokenStream>,
}

pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let name = &input.ident;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            name,
            "#[derive(Form)] works on structs with named fields",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new_spanned(
            name,
            "#[derive(Form)] works on structs with named fields",
        ));
    };
    let forms = quote!(::estate::forms);
    let orm = quote!(::estate::orm);

    let mut clean: Option<Path> = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("form")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("clean") {
                clean = Some(meta.value()?.parse::<LitStr>()?.parse()?);
                Ok(())
            } else {
                Err(meta.error(
                    "unknown form option; expected `clean = \"path::to::fn\"` (a \
                     fn(&Self) -> Result<(), FormErrors>)",
                ))
            }
        })?;
    }

    let mut specs = Vec::new();
    for field in &named.named {
        let ident = field.ident.clone().expect("named field");
        let mut spec = FieldSpec {
            ident: ident.clone(),
            ty: field.ty.clone(),
            calls: Vec::new(),
        };
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("form")) {
            attr.parse_nested_meta(|meta| {
                let key = meta
                    .path
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let call = match key.as_str() {
                    "label" | "help_text" => {
                        let text: LitStr = meta.value()?.parse()?;
                        let method = syn::Ident::new(&key, meta.path.span());
                        quote!(.#method(#text))
                    }
                    "widget" => {
                        let widget: LitStr = meta.value()?.parse()?;
                        let normalized = widget.value().to_ascii_lowercase().replace(['_', '-'], "");
                        if !WIDGETS.contains(&normalized.as_str()) {
                            return Err(syn::Error::new(
                                widget.span(),
                                format!(
                                    "unknown widget {:?} on `{ident}`; use text, email, url, \
                                     number, password, textarea, checkbox, select, radio, date, \
                                     time, datetime, hidden or file",
                                    widget.value()
                                ),
                            ));
                        }
                        quote!(.widget(#forms::Widget::from_name(#widget).expect("checked by the derive")))
                    }
                    "max_length" | "min_length" => {
                        let n: syn::LitInt = meta.value()?.parse()?;
                        let method = syn::Ident::new(&key, meta.path.span());
                        quote!(.#method(#n))
                    }
                    "min" | "max" => {
                        let n: Expr = meta.value()?.parse()?;
                        let method = if key == "min" {
                            quote!(min_value)
                        } else {
                            quote!(max_value)
                        };
                        quote!(.#method((#n) as f64))
                    }
                    "max_digits" | "decimal_places" => {
                        let n: syn::LitInt = meta.value()?.parse()?;
                        let method = syn::Ident::new(&key, meta.path.span());
                        quote!(.#method(#n))
                    }
                    "email" => quote!(.kind(#forms::FieldKind::Email)),
                    "url" => quote!(.kind(#forms::FieldKind::Url)),
                    "slug" => quote!(.kind(#forms::FieldKind::Slug)),
                    "required" => quote!(.required(true)),
                    "initial" => {
                        let value: Expr = meta.value()?.parse()?;
                        let ty = &spec.ty;
                        quote!(.initial(<#ty as #orm::FieldValue>::to_value(&(#value).into())))
                    }
                    "validator" => {
                        let path: Path = meta.value()?.parse::<LitStr>()?.parse()?;
                        let ty = &spec.ty;
                        // A typed check run with the field's own checks, so its
                        // message shows in the same pass as the others.
                        quote!(.check::<#ty>(|value: &#ty| #path(value)))
                    }
                    _ => {
                        return Err(meta.error(format!(
                            "unknown form option `{key}` on `{ident}`; expected one of: \
                             {FIELD_OPTIONS}"
                        )));
                    }
                };
                spec.calls.push(call);
                Ok(())
            })?;
        }
        specs.push(spec);
    }

    let field_builders = specs.iter().map(|spec| {
        let ty = &spec.ty;
        let field_name = spec.ident.to_string();
        let calls = &spec.calls;
        quote! {
            <#ty as #forms::FormValue>::form_field(#field_name) #(#calls)*
        }
    });
    let takes = specs.iter().map(|spec| {
        let ident = &spec.ident;
        let ty = &spec.ty;
        let field_name = spec.ident.to_string();
        quote! {
            let #ident: ::core::option::Option<#ty> =
                match cleaned.take_input(#field_name).map(<#ty as #forms::FormValue>::from_input) {
                    ::core::option::Option::Some(::core::result::Result::Ok(value)) => {
                        ::core::option::Option::Some(value)
                    }
                    ::core::option::Option::Some(::core::result::Result::Err(message)) => {
                        errors.add(::core::option::Option::Some(#field_name), message);
                        ::core::option::Option::None
                    }
                    ::core::option::Option::None => {
                        errors.add(::core::option::Option::Some(#field_name), "This field is required.");
                        ::core::option::Option::None
                    }
                };
        }
    });
    let builds = specs.iter().map(|spec| {
        let ident = &spec.ident;
        quote! {
            #ident: match #ident {
                ::core::option::Option::Some(value) => value,
                ::core::option::Option::None => return ::core::result::Result::Err(errors),
            }
        }
    });
    let initials = specs.iter().map(|spec| {
        let ident = &spec.ident;
        let ty = &spec.ty;
        let field_name = spec.ident.to_string();
        quote! {
            <#ty as #forms::FormValue>::initial_value(&self.#ident)
                .map(|value| (::std::string::String::from(#field_name), value))
        }
    });
    let clean_fn = clean.map(|path| {
        quote! {
            fn clean(&self) -> ::core::result::Result<(), #forms::FormErrors> {
                #path(self)
            }
        }
    });
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics #forms::Form for #name #ty_generics #where_clause {
            fn fields() -> ::std::vec::Vec<#forms::FormField> {
                ::std::vec![#(#field_builders),*]
            }

            fn from_cleaned(
                mut cleaned: #forms::CleanedData,
            ) -> ::core::result::Result<Self, #forms::FormErrors> {
                let mut errors = #forms::FormErrors::new();
                #(#takes)*
                if !errors.is_empty() {
                    return ::core::result::Result::Err(errors);
                }
                ::core::result::Result::Ok(Self { #(#builds),* })
            }

            fn to_initial(&self) -> ::std::vec::Vec<(::std::string::String, #orm::Value)> {
                [#(#initials),*].into_iter().flatten().collect()
            }

            #clean_fn
        }
    })
}
