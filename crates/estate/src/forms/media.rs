//! Media storage: where uploaded files are kept (`media_root`), under safe
//! generated names, and the URLs they are served at (`media_url`; served by
//! the site itself in DEBUG only, like Django).

use std::path::{Component, Path, PathBuf};

use axum::extract::FromRequestParts;
use http::request::Parts;

use super::upload::{UploadedFile, random_token};
use crate::context::AppContext;
use crate::error::Error;
use crate::settings::Settings;

/// The local file system storage under `media_root` (Django's
/// `FileSystemStorage`). As an extractor it is the app's storage, and an
/// error naming the setting when `media_root` is not set.
#[derive(Clone, Debug)]
pub struct MediaStorage {
    root: PathBuf,
    url: String,
}

impl MediaStorage {
    /// A storage in `root`, served at `url` (`/media/`).
    pub fn new(root: impl Into<PathBuf>, url: &str) -> MediaStorage {
        MediaStorage {
            root: root.into(),
            url: url.to_owned(),
        }
    }

    /// The storage the settings describe.
    ///
    /// # Errors
    /// `media_root` is not set: the message says how to set it.
    pub fn from_settings(settings: &Settings) -> Result<MediaStorage, Error> {
        let root = settings.media_root.as_deref().ok_or_else(|| {
            Error::msg(
                "uploads need a `media_root`: set `media_root = \"media\"` in estate.toml (or \
                 ESTATE_MEDIA_ROOT) to the folder uploaded files are stored in",
            )
        })?;
        Ok(MediaStorage::new(
            std::path::absolute(root).unwrap_or_else(|_| PathBuf::from(root)),
            &settings.media_url,
        ))
    }

    /// The folder files are stored in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Stores `file` in `folder` (e.g. `"avatars"`, or `""`) under a safe
    /// version of its name, made unique with a random suffix when taken.
    /// Returns the stored name (`avatars/me_3f9a2c1b.png`) to keep in the
    /// database.
    ///
    /// # Errors
    /// A folder that tries to leave the root, or a write failure.
    pub async fn save(&self, folder: &str, file: &UploadedFile) -> Result<String, Error> {
        let folder = safe_relative(folder).ok_or_else(|| {
            Error::msg(format!(
                "the media folder {folder:?} is not a plain relative path (no `..`, no leading `/`)"
            ))
        })?;
        let (stem, extension) = split_name(&valid_file_name(&file.file_name));
        let directory = self.root.join(&folder);
        tokio::fs::create_dir_all(&directory)
            .await
            .map_err(|err| Error::msg(format!("cannot create {}: {err}", directory.display())))?;
        let mut candidate = format!("{stem}{extension}");
        loop {
            let path = directory.join(&candidate);
            // create_new: never overwrite an earlier upload, even in a race.
            match tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .await
            {
                Ok(handle) => {
                    drop(handle);
                    if let Err(err) = file.write_to(&path).await {
                        let _ = tokio::fs::remove_file(&path).await;
                        return Err(Error::msg(format!(
                            "cannot write {}: {err}",
                            path.display()
                        )));
                    }
                    let name = folder.join(&candidate);
                    return Ok(name.to_string_lossy().replace('\\', "/"));
                }
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                    candidate = format!("{stem}_{}{extension}", &random_token()[..8]);
                }
                Err(err) => {
                    return Err(Error::msg(format!(
                        "cannot write {}: {err}",
                        path.display()
                    )));
                }
            }
        }
    }

    /// The file for a stored name, if the name stays inside the root.
    pub fn path(&self, name: &str) -> Option<PathBuf> {
        safe_relative(name)
            .filter(|p| !p.as_os_str().is_empty())
            .map(|relative| self.root.join(relative))
    }

    /// The URL of a stored name (`/media/avatars/me.png`, encoded).
    pub fn url(&self, name: &str) -> String {
        let encoded: Vec<String> = name
            .split('/')
            .map(crate::routing::urls::encode_segment)
            .collect();
        format!("{}{}", self.url, encoded.join("/"))
    }

    /// Deletes a stored file (no error if it is gone already).
    ///
    /// # Errors
    /// A name outside the root, or a failed removal.
    pub async fn delete(&self, name: &str) -> Result<(), Error> {
        let path = self
            .path(name)
            .ok_or_else(|| Error::msg(format!("{name:?} is not a stored media name")))?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(Error::msg(format!(
                "cannot delete {}: {err}",
                path.display()
            ))),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MediaStorage {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let context = AppContext::from_request_parts(parts, state).await?;
        MediaStorage::from_settings(context.settings())
    }
}

/// A relative path of normal components only.
fn safe_relative(path: &str) -> Option<PathBuf> {
    if path.contains('\\') || path.contains('\0') {
        return None;
    }
    let path = Path::new(path);
    path.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        .then(|| path.components().collect())
}

/// Django's `get_valid_filename`: spaces become `_`, anything but letters,
/// digits, `-`, `_` and `.` is dropped; never empty. Long names are cut in
/// the stem, on a character boundary, so the extension survives and the
/// name fits every file system (at most 200 bytes).
fn valid_file_name(name: &str) -> String {
    const MAX_BYTES: usize = 200;
    let cleaned: String = name
        .trim()
        .replace(' ', "_")
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.is_empty() {
        return "file".to_owned();
    }
    let (stem, extension) = split_name(cleaned);
    let extension: String = cut_to_bytes(&extension, 20).to_owned();
    let stem = cut_to_bytes(&stem, MAX_BYTES - extension.len());
    let stem = if stem.is_empty() { "file" } else { stem };
    format!("{stem}{extension}")
}

/// The longest prefix of `text` of at most `max` bytes, on a character
/// boundary.
fn cut_to_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `photo.tar.gz` → (`photo.tar`, `.gz`).
fn split_name(name: &str) -> (String, String) {
    match name.rsplit_once('.') {
        Some((stem, extension)) if !stem.is_empty() => (stem.to_owned(), format!(".{extension}")),
        _ => (name.to_owned(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_safe() {
        assert_eq!(valid_file_name("my photo (1).png"), "my_photo_1.png");
        assert_eq!(valid_file_name("../../x"), "x");
        assert_eq!(valid_file_name("<>"), "file");
        // Cut in the stem: the extension survives, the name fits in bytes.
        let long = format!("{}.html.png", "a".repeat(300));
        let cut = valid_file_name(&long);
        assert!(cut.ends_with(".png") && cut.len() <= 200, "{cut}");
        let wide = format!("{}.png", "漢".repeat(99));
        let cut = valid_file_name(&wide);
        assert!(cut.ends_with(".png") && cut.len() <= 200, "{cut}");
        assert_eq!(split_name("a.tar.gz"), ("a.tar".into(), ".gz".into()));
        assert!(safe_relative("../x").is_none());
        assert!(safe_relative("/etc").is_none());
        assert!(safe_relative("a/b").is_some());
        let storage = MediaStorage::new("/srv/media", "/media/");
        assert_eq!(storage.url("a b/é.png"), "/media/a%20b/%C3%A9.png");
        assert!(storage.path("../etc/passwd").is_none());
    }
}
