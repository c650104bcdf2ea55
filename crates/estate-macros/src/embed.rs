//! `embed_dir!`: a folder's files as a static list, read at compile time.

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::quote;

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::path);
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, out)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((name, path.clone()));
        }
    }
    Ok(())
}

pub(crate) fn expand(path: &syn::LitStr) -> syn::Result<TokenStream> {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").map_err(|_| {
        syn::Error::new(
            path.span(),
            "embed_dir! needs CARGO_MANIFEST_DIR (run under cargo)",
        )
    })?;
    let root = Path::new(&manifest).join(path.value());
    if !root.is_dir() {
        // No folder yet: nothing to embed (templates may all live in apps).
        return Ok(quote!(&[]));
    }
    let mut files = Vec::new();
    walk(&root, &root, &mut files).map_err(|err| {
        syn::Error::new(
            path.span(),
            format!("cannot read {}: {err}", root.display()),
        )
    })?;
    let entries = files.iter().map(|(name, file)| {
        let file = file.to_string_lossy().into_owned();
        quote!((#name, include_str!(#file)))
    });
    Ok(quote!(&[#(#entries),*]))
}
