//! Uploaded files: parsed from `multipart/form-data` within the limits in
//! settings, kept in memory when small and streamed to a temporary file
//! past `limits.upload_memory_size` (removed when the upload is dropped).

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::StatusCode;
use tokio::io::AsyncWriteExt;

use crate::error::Error;
use crate::settings::Limits;

/// A file sent with a form. Clones share the contents; a large upload's
/// temporary file is removed when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct UploadedFile {
    /// The file name the browser sent, reduced to its last path component
    /// (never trusted as a storage path: see [`MediaStorage`](super::MediaStorage)).
    pub file_name: String,
    /// The `Content-Type` the browser sent (`application/octet-stream` if none).
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
    contents: Contents,
}

#[derive(Clone, Debug)]
enum Contents {
    Memory(Bytes),
    TempFile(std::sync::Arc<TempFile>),
}

/// A temporary file removed when dropped.
#[derive(Debug)]
struct TempFile {
    path: PathBuf,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl UploadedFile {
    /// An upload held in memory (tests, and code building data by hand).
    pub fn from_bytes(file_name: &str, content_type: &str, bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        UploadedFile {
            file_name: clean_file_name(file_name),
            content_type: content_type.to_owned(),
            size: bytes.len() as u64,
            contents: Contents::Memory(bytes),
        }
    }

    /// The contents.
    ///
    /// # Errors
    /// A temporary file that cannot be read.
    pub async fn bytes(&self) -> std::io::Result<Bytes> {
        match &self.contents {
            Contents::Memory(bytes) => Ok(bytes.clone()),
            Contents::TempFile(file) => tokio::fs::read(&file.path).await.map(Bytes::from),
        }
    }

    /// The temporary file holding a large upload (`None` when in memory).
    pub fn temp_path(&self) -> Option<&Path> {
        match &self.contents {
            Contents::Memory(_) => None,
            Contents::TempFile(file) => Some(&file.path),
        }
    }

    /// Writes the contents to `destination` (moving a temporary file when
    /// it can).
    ///
    /// # Errors
    /// The destination cannot be written.
    pub async fn write_to(&self, destination: &Path) -> std::io::Result<()> {
        match &self.contents {
            Contents::Memory(bytes) => tokio::fs::write(destination, bytes).await,
            Contents::TempFile(file) => tokio::fs::copy(&file.path, destination).await.map(drop),
        }
    }
}

/// The last component of a browser-sent name, without control characters
/// or path separators (`C:\fakepath\a.txt` → `a.txt`).
pub(crate) fn clean_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let trimmed = cleaned.trim().trim_start_matches('.');
    trimmed.chars().take(255).collect()
}

/// The fields and files of a multipart body.
pub(crate) struct Multipart {
    pub(crate) fields: Vec<(String, String)>,
    pub(crate) files: Vec<(String, UploadedFile)>,
}

/// Human size: `2.5 MiB`.
fn size_text(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{:.1} {}", value, UNITS[unit]).replace(".0 ", " ")
    }
}

fn too_large(message: String) -> Error {
    Error::new(StatusCode::PAYLOAD_TOO_LARGE, message)
}

fn body_error(err: &multer::Error) -> Error {
    use std::error::Error as _;
    // The core's body limit surfaces as a stream error.
    let mut source = err.source();
    while let Some(cause) = source {
        if cause.is::<http_body_util::LengthLimitError>() {
            return too_large("The request body is larger than this route accepts.".to_owned());
        }
        source = cause.source();
    }
    Error::bad_request(format!("The multipart form body is malformed: {err}."))
}

/// Reads a multipart body within `limits`.
pub(crate) async fn parse(
    body: axum::body::Body,
    boundary: String,
    limits: &Limits,
) -> Result<Multipart, Error> {
    let mut multipart = multer::Multipart::new(body.into_data_stream(), boundary);
    let mut out = Multipart {
        fields: Vec::new(),
        files: Vec::new(),
    };
    let mut form_bytes: u64 = 0;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(err) => return Err(body_error(&err)),
        };
        let name = field.name().unwrap_or("").to_owned();
        // Names count towards the form's memory too (as in Django).
        form_bytes += name.len() as u64;
        if form_bytes > limits.max_form_memory_size {
            return Err(too_large(format!(
                "The form's fields (files not counted) are larger than {} \
                 (limits.max_form_memory_size).",
                size_text(limits.max_form_memory_size)
            )));
        }
        match field.file_name().map(str::to_owned) {
            None => {
                if out.fields.len() >= limits.max_fields {
                    return Err(Error::bad_request(format!(
                        "The form has more than {} fields (limits.max_fields).",
                        limits.max_fields
                    )));
                }
                let text = read_field(field, limits, &mut form_bytes).await?;
                out.fields.push((name, text));
            }
            Some(file_name) => {
                if out.files.len() >= limits.max_files {
                    return Err(Error::bad_request(format!(
                        "The form has more than {} files (limits.max_files).",
                        limits.max_files
                    )));
                }
                let content_type = field.content_type().map_or_else(
                    || "application/octet-stream".to_owned(),
                    ToString::to_string,
                );
                // An empty file input sends a part with no name and no data.
                let file = read_file(field, &file_name, content_type, limits).await?;
                if !(file.file_name.is_empty() && file.size == 0) {
                    out.files.push((name, file));
                }
            }
        }
    }
    Ok(out)
}

async fn read_field(
    mut field: multer::Field<'_>,
    limits: &Limits,
    form_bytes: &mut u64,
) -> Result<String, Error> {
    let name = field.name().unwrap_or("").to_owned();
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| body_error(&e))? {
        *form_bytes += chunk.len() as u64;
        if *form_bytes > limits.max_form_memory_size {
            return Err(too_large(format!(
                "The form's fields (files not counted) are larger than {} \
                 (limits.max_form_memory_size).",
                size_text(limits.max_form_memory_size)
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes)
        .map_err(|_| Error::bad_request(format!("The form field `{name}` is not valid UTF-8.")))
}

async fn read_file(
    mut field: multer::Field<'_>,
    file_name: &str,
    content_type: String,
    limits: &Limits,
) -> Result<UploadedFile, Error> {
    let file_name = clean_file_name(file_name);
    let mut size: u64 = 0;
    let mut memory = Vec::new();
    let mut spilled: Option<(TempFile, tokio::fs::File)> = None;
    while let Some(chunk) = field.chunk().await.map_err(|e| body_error(&e))? {
        size += chunk.len() as u64;
        if let Some(max) = limits.max_file_size {
            if size > max {
                return Err(too_large(format!(
                    "The file “{file_name}” is larger than {} (limits.max_file_size).",
                    size_text(max)
                )));
            }
        }
        match &mut spilled {
            Some((_, file)) => file.write_all(&chunk).await.map_err(upload_io)?,
            None if size > limits.upload_memory_size => {
                let (temp, mut file) = create_temp_file().await.map_err(upload_io)?;
                file.write_all(&memory).await.map_err(upload_io)?;
                file.write_all(&chunk).await.map_err(upload_io)?;
                memory = Vec::new();
                spilled = Some((temp, file));
            }
            None => memory.extend_from_slice(&chunk),
        }
    }
    let contents = match spilled {
        Some((temp, mut file)) => {
            file.flush().await.map_err(upload_io)?;
            Contents::TempFile(std::sync::Arc::new(temp))
        }
        None => Contents::Memory(Bytes::from(memory)),
    };
    Ok(UploadedFile {
        file_name,
        content_type,
        size,
        contents,
    })
}

fn upload_io(err: std::io::Error) -> Error {
    Error::msg(format!(
        "cannot store an upload in the temporary folder {}: {err}",
        std::env::temp_dir().display()
    ))
}

/// A new, uniquely named file in the system's temporary folder.
async fn create_temp_file() -> std::io::Result<(TempFile, tokio::fs::File)> {
    loop {
        let path = std::env::temp_dir().join(format!("estate-upload-{}", random_token()));
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        // Readable by this user only: uploads may be private.
        #[cfg(unix)]
        options.mode(0o600);
        match options.open(&path).await {
            Ok(file) => return Ok((TempFile { path }, file)),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
}

/// 32 random hex digits (128 bits from the operating system).
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_file_names_are_reduced_to_a_safe_last_component() {
        assert_eq!(clean_file_name("C:\\fakepath\\report.pdf"), "report.pdf");
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("..hidden"), "hidden");
        assert_eq!(clean_file_name("a\u{0}b\n.txt"), "ab.txt");
        assert_eq!(size_text(2_621_440), "2.5 MiB");
        assert_eq!(size_text(1024), "1 KiB");
        assert_eq!(size_text(10), "10 bytes");
    }
}
