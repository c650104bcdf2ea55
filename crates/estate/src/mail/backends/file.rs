//! The file backend: one `.eml` file per message in a folder.

use std::io::Write;
use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;

use super::MailBackend;
use crate::mail::error::MailError;
use crate::mail::message::OutgoingEmail;

/// Writes each message to its own file in a folder (`mail.file_path`,
/// created if missing), named by the time and a random suffix:
/// `20250101-120000-k3j5x9q2mb.eml`. Any mail reader opens these files.
/// Use it on a staging server or in a demo, where mail must not go out but
/// should be kept (Django's file backend). Files appear whole: each is
/// written under a temporary name, then renamed.
#[derive(Clone, Debug)]
pub struct FileBackend {
    dir: PathBuf,
}

impl FileBackend {
    /// Writes into `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileBackend { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl MailBackend for FileBackend {
    fn send<'a>(&'a self, email: &'a OutgoingEmail) -> BoxFuture<'a, Result<(), MailError>> {
        let dir = self.dir.clone();
        let raw = email.raw().to_vec();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || write_message(&dir, &raw))
                .await
                .map_err(|err| MailError::Output(std::io::Error::other(err)))?
                .map(drop)
        })
    }

    fn name(&self) -> &'static str {
        "file"
    }
}

/// Writes `raw` to a new file in `dir` and returns its path.
fn write_message(dir: &Path, raw: &[u8]) -> Result<PathBuf, MailError> {
    let file_error = |path: &Path| {
        let path = path.to_owned();
        move |error| MailError::File { path, error }
    };
    std::fs::create_dir_all(dir).map_err(file_error(dir))?;
    let stamp = crate::orm::chrono::Utc::now().format("%Y%m%d-%H%M%S");
    loop {
        let suffix = crate::crypto::random_string_from(10, b"abcdefghijklmnopqrstuvwxyz0123456789");
        let name = format!("{stamp}-{suffix}.eml");
        let path = dir.join(&name);
        let temporary = dir.join(format!(".{name}.part"));
        let mut file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
        {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(file_error(&temporary)(err)),
        };
        let written = file.write_all(raw).and_then(|()| file.sync_all());
        drop(file);
        if let Err(err) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(file_error(&temporary)(err));
        }
        if path.exists() {
            // A name already taken (same second, same suffix): try another.
            let _ = std::fs::remove_file(&temporary);
            continue;
        }
        std::fs::rename(&temporary, &path).map_err(file_error(&path))?;
        return Ok(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_message_gets_its_own_file_in_a_folder_made_on_demand() {
        let root = std::env::temp_dir().join(format!(
            "estate-mail-file-{}",
            crate::crypto::get_random_string(12)
        ));
        let dir = root.join("nested/sent");
        let first = write_message(&dir, b"Subject: one\r\n\r\nbody one\r\n").unwrap();
        let second = write_message(&dir, b"Subject: two\r\n\r\nbody two\r\n").unwrap();
        assert_ne!(first, second);
        assert_eq!(first.parent().unwrap(), dir);
        assert_eq!(first.extension().unwrap(), "eml");
        assert_eq!(
            std::fs::read(&second).unwrap(),
            b"Subject: two\r\n\r\nbody two\r\n"
        );
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names.len(), 2, "no temporary files left: {names:?}");
        assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn an_unwritable_folder_names_the_path() {
        let root = std::env::temp_dir().join(format!(
            "estate-mail-file-{}",
            crate::crypto::get_random_string(12)
        ));
        std::fs::write(&root, b"a file, not a folder").unwrap();
        let err = write_message(&root.join("sent"), b"x").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("cannot write email to"), "{text}");
        assert!(text.contains(&*root.to_string_lossy()), "{text}");
        std::fs::remove_file(&root).unwrap();
    }
}
