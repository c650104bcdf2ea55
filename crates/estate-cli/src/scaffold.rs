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
    // create_dir, not create_dir_all: a folder that appeared meanwhile is
    // someone else's, and must not be removed on failure.
    fs::create_dir(folder).map_err(|err| format!("cannot create {}: {err}", folder.display()))?;
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
    // What this run created, to remove on failure: files, then folders
    // (deepest first), so a failed `startapp` can simply be run again.
    let mut done: Vec<PathBuf> = Vec::new();
    let mut folders: Vec<PathBuf> = Vec::new();
    for file in files {
        let path = root.join(&file.path);
        let result = path
            .parent()
            .map_or(Ok(()), |parent| create_folders(parent, &mut folders))
            .and_then(|()| {
                // create_new: a file that appeared meanwhile is not replaced.
                let mut out = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)?;
                // Created: it is ours to remove even if writing fails.
                done.push(path.clone());
                out.write_all(file.text.as_bytes())
            });
        if let Err(err) = result {
            for path in done.iter().rev() {
                let _ = fs::remove_file(path);
            }
            for folder in folders.iter().rev() {
                let _ = fs::remove_dir(folder);
            }
            return Err(format!("cannot write {}: {err}", path.display()));
        }
    }
    Ok(())
}

/// Creates `folder` and its missing parents, noting each one created.
fn create_folders(folder: &Path, created: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if folder.is_dir() {
        return Ok(());
    }
    if let Some(parent) = folder.parent() {
        create_folders(parent, created)?;
    }
    match fs::create_dir(folder) {
        Ok(()) => {
            created.push(folder.to_path_buf());
            Ok(())
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_leaves_nothing_behind() {
        let root = std::env::temp_dir().join(format!("estate-scaffold-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        // The second file is the first one again: it cannot be created new.
        let files = [
            File::new("app/templates/app/index.html", "one", &[]),
            File::new("app/templates/app/index.html", "two", &[]),
        ];
        let err = write_files(&root, &files).unwrap_err();
        assert!(err.contains("cannot write"), "{err}");
        assert_eq!(
            fs::read_dir(&root).unwrap().count(),
            0,
            "folders left behind"
        );
        // Done right, it writes every file.
        write_files(&root, &files[..1]).unwrap();
        assert_eq!(
            fs::read_to_string(root.join("app/templates/app/index.html")).unwrap(),
            "one"
        );
        fs::remove_dir_all(&root).unwrap();
    }
}
