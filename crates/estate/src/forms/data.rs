//! Submitted form data: the fields of a urlencoded or multipart body (or of
//! the query string for GET forms), in order, with repeated names kept, and
//! the uploaded files.

use axum::extract::{FromRequest, Request};
use http::{Method, StatusCode};

use super::upload::{self, UploadedFile};
use crate::context::AppContext;
use crate::error::Error;

/// The submitted fields and files of a form. As an extractor it reads an
/// `application/x-www-form-urlencoded` or `multipart/form-data` body (within
/// the route's body limit and the `limits.max_*` settings, else `400`/`413`
/// saying which), or the query string for GET and HEAD requests.
#[derive(Clone, Debug, Default)]
pub struct FormData {
    fields: Vec<(String, String)>,
    files: Vec<(String, UploadedFile)>,
}

impl FormData {
    /// No fields.
    pub fn new() -> FormData {
        FormData::default()
    }

    /// Parses `a=1&b=x+y`.
    pub fn from_urlencoded(bytes: &[u8]) -> FormData {
        FormData {
            fields: form_urlencoded::parse(bytes).into_owned().collect(),
            files: Vec::new(),
        }
    }

    /// Adds a field (tests and code building data by hand).
    pub fn with(mut self, name: &str, value: &str) -> FormData {
        self.fields.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds an uploaded file (tests).
    pub fn with_file(mut self, name: &str, file: UploadedFile) -> FormData {
        self.files.push((name.to_owned(), file));
        self
    }

    /// The first file sent as `name`.
    pub fn file(&self, name: &str) -> Option<&UploadedFile> {
        self.files.iter().find(|(n, _)| n == name).map(|(_, f)| f)
    }

    /// Every file sent as `name` (an `<input type="file" multiple>`).
    pub fn files(&self, name: &str) -> Vec<&UploadedFile> {
        self.files
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, f)| f)
            .collect()
    }

    /// The last value of `name` (as Django's `QueryDict`); see
    /// [`get_all`](Self::get_all) for every one.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether `name` was submitted at all.
    pub fn contains(&self, name: &str) -> bool {
        self.fields.iter().any(|(n, _)| n == name)
    }

    /// Every (name, file) pair, in order.
    pub fn all_files(&self) -> impl Iterator<Item = (&str, &UploadedFile)> {
        self.files.iter().map(|(n, f)| (n.as_str(), f))
    }

    /// Every (name, value) pair, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limits = match AppContext::from_extensions(request.extensions()) {
            Some(context) => context.settings().limits.clone(),
            None => crate::settings::Settings::development().limits,
        };
        if matches!(*request.method(), Method::GET | Method::HEAD) {
            let data = FormData::from_urlencoded(request.uri().query().unwrap_or("").as_bytes());
            return data.within_field_limit(&limits);
        }
        // The boundary is case-sensitive: only the type is compared lowercased.
        let original_type = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let content_type = original_type.to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            let boundary = multer::parse_boundary(&original_type).map_err(|_| {
                Error::bad_request("The multipart form body has no boundary in its Content-Type.")
            })?;
            let parsed = upload::parse(request.into_body(), boundary, &limits).await?;
            return Ok(FormData {
                fields: parsed.fields,
                files: parsed.files,
            });
        }
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            return Err(Error::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "Expected a form (application/x-www-form-urlencoded or multipart/form-data), \
                     got {}.",
                    if content_type.is_empty() {
                        "no Content-Type"
                    } else {
                        content_type.as_str()
                    }
                ),
            ));
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|rejection| Error::new(rejection.status(), rejection.body_text()))?;
        FormData::from_urlencoded(&bytes).within_field_limit(&limits)
    }
}

impl FormData {
    /// `self`, or a 400 when it has more fields than `limits.max_fields`.
    fn within_field_limit(self, limits: &crate::settings::Limits) -> Result<FormData, Error> {
        if self.fields.len() > limits.max_fields {
            return Err(Error::bad_request(format!(
                "The form has more than {} fields (limits.max_fields).",
                limits.max_fields
            )));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_and_encoding() {
        let data = FormData::from_urlencoded(b"tag=a&tag=b&name=J%C3%BCrgen+X&empty=");
        assert_eq!(data.get_all("tag"), ["a", "b"]);
        assert_eq!(data.get("tag"), Some("b"), "the last one, like Django");
        assert_eq!(data.get("name"), Some("Jürgen X"));
        assert_eq!(data.get("empty"), Some(""));
        assert!(!data.contains("missing"));
    }
}
