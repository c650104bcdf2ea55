//! Writing a set of files into a new folder, all or nothing: nothing that
//! exists is ever overwritten, and a failure removes what was written.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// One file to write: its path under the folder and its text.
pub(crate) struct File {
    pub(crate) path: String,
    pub(crate) text: String,
}

impl File {
    /// `text` with every `(placeholder, value)` replaced.
    pub(crate) fn new(path: impl Into<String>, text: &str, values: &[(&str, &str)]) -> File {
        let mut text = text.to_owned();
        for (placeholder, value) in values {
            text = text.replace(placeholder, value);
        }
        File {
            path: path.into(),
            text,
        }
    }
}

/// Creates `folder` (which must not exist) and writes `files` into it. On
/// any failure the folder is removed again and the error names the file.
pub(crate) fn write_new_folder(folder: &Path, files: &[File]) -> Result<(), String> {
    if folder.exists() {
        return Err(format!(
            "{} already exists; choose another name or remove it first (nothing was written)",
            folder.display()
        ));
    }
    fs::create_dir_all(folder)
        .map_err(|err| format!("cannot create {}: {err}", folder.display()))?;
    let written = write_files(folder, files);
    if written.is_err() {
        let _ = fs::remove_dir_all(folder);
    }
    written
}

/// Writes `files` under `root`, refusing any that exists; on failure removes
/// the files written so far.
pub(crate) fn write_files(root: &Path, files: &[File]) -> Result<(), String> {
    if let Some(existing) = files
        .iter()
        .map(|f| root.join(&f.path))
        .find(|p| p.exists())
    {
        return Err(format!(
            "{} already exists; nothing was written (Estate never overwrites a file)",
            existing.display()
        ));
    }
    let mut done: Vec<PathBuf> = Vec::new();
    for file in files {
        let path = root.join(&file.path);
        let result = path
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| {
                // create_new: a file that appeared meanwhile is not replaced.
                let mut out = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)?;
                out.write_all(file.text.as_bytes())
            });
        if let Err(err) = result {
            for path in done.iter().rev() {
                let _ = fs::remove_file(path);
            }
            return Err(format!("cannot write {}: {err}", path.display()));
        }
        done.push(path);
    }
    Ok(())
}
