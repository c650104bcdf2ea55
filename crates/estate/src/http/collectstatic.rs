//! `collectstatic`: gathers every static folder (the project's first, then
//! the apps', first one wins per file) into `static_root`, each file under
//! its own name and under a content-hashed name (`css/site.3f2a9c1b04d7.css`),
//! with gzip and brotli copies of text files and a manifest
//! (`staticfiles.json`) mapping names to hashed names. Stylesheets' `url()`
//! and `@import` references (and source-map comments) are rewritten to the
//! hashed names, like Django's `ManifestStaticFilesStorage`, so a hashed
//! stylesheet never points at a stale image. Outside DEBUG the site serves
//! that folder itself: hashed names forever-cacheable, a compressed copy when
//! the client accepts it.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::static_files::StaticSource;

/// The manifest's file name in `static_root`.
pub const MANIFEST: &str = "staticfiles.json";

/// Files smaller than this are not worth compressing.
const COMPRESS_MIN_BYTES: usize = 256;

/// What a collection did.
#[derive(Debug, Default)]
pub struct Collected {
    /// Name → hashed name, for every file.
    pub paths: BTreeMap<String, String>,
    /// Compressed copies written (`.gz` and `.br`).
    pub compressed: usize,
    /// References in stylesheets that could not be rewritten (a missing
    /// file, a cycle), naming the stylesheet and the reference.
    pub warnings: Vec<String>,
}

/// Collects `sources` into `root`, calling `progress(done, total)` as each
/// file is written. `static_url` lets stylesheets refer to other files by
/// absolute URL (`/static/img/logo.png`).
///
/// # Errors
/// An unreadable source or an unwritable `root`, naming the path.
pub fn collect(
    sources: &[StaticSource],
    root: &Path,
    static_url: &str,
    progress: &mut dyn FnMut(usize, usize),
) -> std::io::Result<Collected> {
    let mut files: BTreeMap<String, PathBuf> = BTreeMap::new();
    for source in sources {
        if !source.dir.is_dir() {
            continue;
        }
        let mut found = Vec::new();
        walk(&source.dir, &source.dir, &mut found)?;
        for (name, path) in found {
            // The first folder (the project's) wins.
            files.entry(name).or_insert(path);
        }
    }
    let mut collector = Collector {
        total: files.len(),
        files,
        root,
        static_url,
        collected: Collected::default(),
        resolving: HashSet::new(),
        progress,
    };
    let names: Vec<String> = collector.files.keys().cloned().collect();
    for name in names {
        collector.resolve(&name)?;
    }
    let collected = collector.collected;
    let manifest = serde_json::json!({ "version": "1", "paths": collected.paths });
    write_file(
        &root.join(MANIFEST),
        &serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?,
    )?;
    Ok(collected)
}

/// The manifest of a collected `root`: name → hashed name (empty if there
/// is none yet).
pub(crate) fn load_manifest(root: &Path) -> BTreeMap<String, String> {
    let Ok(text) = std::fs::read_to_string(root.join(MANIFEST)) else {
        return BTreeMap::new();
    };
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("paths").cloned())
        .and_then(|paths| serde_json::from_value(paths).ok())
        .unwrap_or_default()
}

struct Collector<'a> {
    files: BTreeMap<String, PathBuf>,
    root: &'a Path,
    static_url: &'a str,
    collected: Collected,
    /// Stylesheets being rewritten, to stop at `@import` cycles.
    resolving: HashSet<String>,
    progress: &'a mut dyn FnMut(usize, usize),
    total: usize,
}

impl Collector<'_> {
    /// Writes `name` (and, first, whatever it refers to) and returns its
    /// hashed name.
    fn resolve(&mut self, name: &str) -> std::io::Result<String> {
        if let Some(hashed) = self.collected.paths.get(name) {
            return Ok(hashed.clone());
        }
        let path = self.files[name].clone();
        let mut bytes = std::fs::read(&path).map_err(|err| {
            std::io::Error::new(err.kind(), format!("cannot read {}: {err}", path.display()))
        })?;
        if is_stylesheet(name) {
            if let Ok(text) = String::from_utf8(bytes.clone()) {
                self.resolving.insert(name.to_owned());
                let rewritten = self.rewrite_css(name, &text)?;
                self.resolving.remove(name);
                bytes = rewritten.into_bytes();
            }
        }
        let hashed = hashed_name(name, &content_hash(&bytes));
        let compressed = if compressible(name) && bytes.len() >= COMPRESS_MIN_BYTES {
            compress(&bytes)?
        } else {
            Vec::new()
        };
        for target in [name, hashed.as_str()] {
            write_file(&self.root.join(target), &bytes)?;
            for extension in ["gz", "br"] {
                let copy = self.root.join(format!("{target}.{extension}"));
                match compressed.iter().find(|(e, _)| *e == extension) {
                    Some((_, data)) => {
                        write_file(&copy, data)?;
                        self.collected.compressed += 1;
                    }
                    // A copy from an earlier run would be served stale.
                    None => match std::fs::remove_file(&copy) {
                        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                            return Err(std::io::Error::new(
                                err.kind(),
                                format!("cannot remove {}: {err}", copy.display()),
                            ));
                        }
                        _ => {}
                    },
                }
            }
        }
        self.collected.paths.insert(name.to_owned(), hashed.clone());
        (self.progress)(self.collected.paths.len(), self.total);
        Ok(hashed)
    }

    /// `css` with every reference to a collected file pointing at its
    /// hashed name.
    fn rewrite_css(&mut self, name: &str, css: &str) -> std::io::Result<String> {
        let mut out = String::with_capacity(css.len());
        let mut copied = 0;
        while let Some((start, end)) = next_reference_from(css, copied) {
            out.push_str(&css[copied..start]);
            out.push_str(&self.rewrite_reference(name, &css[start..end])?);
            copied = end;
        }
        out.push_str(&css[copied..]);
        Ok(out)
    }

    /// One reference, rewritten if it names a collected file.
    fn rewrite_reference(&mut self, stylesheet: &str, reference: &str) -> std::io::Result<String> {
        // Keep `?#iefix` and `#glyph` suffixes as they are.
        let split = reference.find(['?', '#']).unwrap_or(reference.len());
        let (url_path, suffix) = reference.split_at(split);
        let lower = url_path.to_ascii_lowercase();
        let external = url_path.is_empty()
            || url_path.starts_with("//")
            || lower.starts_with("data:")
            || url_path
                .split('/')
                .next()
                .is_some_and(|first| first.contains(':'));
        if external {
            return Ok(reference.to_owned());
        }
        let target = if let Some(absolute) = url_path.strip_prefix('/') {
            match url_path.strip_prefix(self.static_url) {
                Some(inside) => normalize(inside),
                // Another absolute URL of the site: not ours to change.
                None if !absolute.is_empty() => return Ok(reference.to_owned()),
                None => None,
            }
        } else {
            let dir = stylesheet.rsplit_once('/').map_or("", |(dir, _)| dir);
            normalize(&format!("{dir}/{url_path}"))
        };
        let Some(target) = target.filter(|t| self.files.contains_key(t)) else {
            self.collected.warnings.push(format!(
                "{stylesheet}: `{reference}` is not a collected static file; left unchanged"
            ));
            return Ok(reference.to_owned());
        };
        if self.resolving.contains(&target) {
            self.collected.warnings.push(format!(
                "{stylesheet}: `{reference}` imports a stylesheet that imports it back; \
                 left unchanged"
            ));
            return Ok(reference.to_owned());
        }
        let hashed = self.resolve(&target)?;
        let hashed_file = hashed.rsplit('/').next().unwrap_or(&hashed);
        // Only the file name changes, so the URL stays relative or absolute
        // as written.
        let kept = url_path.rsplit_once('/').map_or("", |(dir, _)| dir);
        let separator = if kept.is_empty() && !url_path.contains('/') {
            ""
        } else {
            "/"
        };
        Ok(format!("{kept}{separator}{hashed_file}{suffix}"))
    }
}

/// The byte range of the next file reference in `css`: the inside of
/// `url(...)` (quotes excluded), the string of `@import "..."`, or the
/// target of a `sourceMappingURL=` comment.
fn next_reference(css: &str) -> Option<(usize, usize)> {
    // ASCII lowercasing keeps every byte offset.
    let lower = css.to_ascii_lowercase();
    let bytes = css.as_bytes();
    let mut from = 0;
    loop {
        let (at, keyword) = ["url(", "@import", "sourcemappingurl="]
            .into_iter()
            .filter_map(|k| lower[from..].find(k).map(|i| (from + i, k)))
            .min_by_key(|(at, _)| *at)?;
        let mut start = at + keyword.len();
        while start < bytes.len() && bytes[start].is_ascii_whitespace() {
            start += 1;
        }
        let quote = bytes
            .get(start)
            .copied()
            .filter(|b| *b == b'"' || *b == b'\'');
        if quote.is_none() && keyword == "@import" {
            // `@import url(...)`: the `url(` is found next.
            from = start;
            continue;
        }
        if quote.is_some() {
            start += 1;
        }
        let end = match quote {
            Some(q) => start + css[start..].find(char::from(q))?,
            None if keyword == "url(" => {
                let close = start + css[start..].find(')')?;
                start + css[start..close].trim_end().len()
            }
            None => css[start..]
                .find(|c: char| c.is_whitespace() || c == '*')
                .map_or(css.len(), |i| start + i),
        };
        return Some((start, end));
    }
}

/// [`next_reference`] starting at byte `from`, with offsets into `css`.
fn next_reference_from(css: &str, from: usize) -> Option<(usize, usize)> {
    next_reference(&css[from..]).map(|(start, end)| (from + start, from + end))
}

/// `a/./b/../c.png` → `a/c.png`; `None` if it climbs above the root.
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|err| {
            std::io::Error::new(err.kind(), format!("cannot read {}: {err}", dir.display()))
        })?
        .collect::<Result<_, _>>()?;
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

fn write_file(destination: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = destination.parent() {
        std::fs::create_dir_all(parent).map_err(|err| {
            std::io::Error::new(
                err.kind(),
                format!("cannot create {}: {err}", parent.display()),
            )
        })?;
    }
    std::fs::write(destination, bytes).map_err(|err| {
        std::io::Error::new(
            err.kind(),
            format!("cannot write {}: {err}", destination.display()),
        )
    })
}

/// `css/site.css` with hash `abc` → `css/site.abc.css`.
pub(crate) fn hashed_name(name: &str, hash: &str) -> String {
    let (dir, file) = match name.rsplit_once('/') {
        Some((dir, file)) => (format!("{dir}/"), file),
        None => (String::new(), name),
    };
    match file.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{dir}{stem}.{hash}.{ext}"),
        _ => format!("{dir}{file}.{hash}"),
    }
}

/// 12 hex digits of FNV-1a 64 of the contents: enough to bust caches (not a
/// security hash).
fn content_hash(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{:012x}", hash & 0xffff_ffff_ffff)
}

fn is_stylesheet(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".css")
}

/// Text files worth compressing.
fn compressible(name: &str) -> bool {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    matches!(
        ext.as_deref(),
        Some(
            "css"
                | "js"
                | "mjs"
                | "json"
                | "map"
                | "svg"
                | "html"
                | "htm"
                | "txt"
                | "xml"
                | "ttf"
                | "otf"
                | "wasm"
        )
    )
}

/// The gzip and brotli copies that are at least 5% smaller than the file
/// (so a client never downloads a "compressed" file bigger than the
/// original).
fn compress(bytes: &[u8]) -> std::io::Result<Vec<(&'static str, Vec<u8>)>> {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(bytes)?;
    let gzip = gzip.finish()?;
    let mut brotli = Vec::new();
    {
        // Quality 11 (the maximum): compressed once at deploy, served often.
        let mut writer = brotli::CompressorWriter::new(&mut brotli, 64 * 1024, 11, 22);
        writer.write_all(bytes)?;
        writer.flush()?;
    }
    Ok([("gz", gzip), ("br", brotli)]
        .into_iter()
        .filter(|(_, data)| data.len() * 100 < bytes.len() * 95)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_keep_folder_and_extension() {
        assert_eq!(hashed_name("css/site.css", "abc"), "css/site.abc.css");
        assert_eq!(hashed_name("logo.min.js", "abc"), "logo.min.abc.js");
        assert_eq!(hashed_name("LICENSE", "abc"), "LICENSE.abc");
        assert_eq!(hashed_name(".hidden", "abc"), ".hidden.abc");
        assert_eq!(content_hash(b"a").len(), 12);
        assert_ne!(content_hash(b"a"), content_hash(b"b"));
    }

    fn references(css: &str) -> Vec<&str> {
        let mut found = Vec::new();
        let mut from = 0;
        while let Some((start, end)) = next_reference_from(css, from) {
            found.push(&css[start..end]);
            from = end;
        }
        found
    }

    #[test]
    fn finds_every_kind_of_reference() {
        let css = r#"@import "base.css"; @import url('print.css') print;
            a { background: URL( "../img/a b.png" ) } b { src: url(font.woff2?#iefix) }
            /*# sourceMappingURL=site.css.map */"#;
        assert_eq!(
            references(css),
            vec![
                "base.css",
                "print.css",
                "../img/a b.png",
                "font.woff2?#iefix",
                "site.css.map"
            ]
        );
        assert!(references("a { color: red }").is_empty());
    }

    #[test]
    fn paths_normalize_inside_the_root_only() {
        assert_eq!(normalize("css/../img/a.png").as_deref(), Some("img/a.png"));
        assert_eq!(normalize("./a//b").as_deref(), Some("a/b"));
        assert_eq!(normalize("css/../../a.png"), None);
    }
}
