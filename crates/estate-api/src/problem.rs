//! The one error shape of the API: RFC 9457 problem details
//! (`application/problem+json`), for every 4xx the API answers.
//!
//! ```json
//! {"type": "about:blank", "title": "Bad Request", "status": 400,
//!  "detail": "Invalid input.",
//!  "errors": {"question_text": ["Ensure this field has no more than 200 characters."]}}
//! ```
//!
//! Server errors go through [`estate::Error`], which Estate's core renders
//! in the same shape on API routes (with the error chain in DEBUG only).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};

/// Field name → messages; non-field errors under [`NON_FIELD_ERRORS`].
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// The key of errors about the input as a whole (Django REST Framework's name).
pub const NON_FIELD_ERRORS: &str = "non_field_errors";

/// The media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A client error as a problem document.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    status: StatusCode,
    detail: String,
    errors: Option<FieldErrors>,
    headers: Vec<(http::HeaderName, HeaderValue)>,
}

impl Problem {
    /// A problem with a status and a message for the client.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            detail: detail.into(),
            errors: None,
            headers: Vec::new(),
        }
    }

    /// 400: the request is malformed (a bad query parameter, broken JSON).
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 400 with the errors of each field.
    pub fn invalid(errors: FieldErrors) -> Problem {
        let mut problem = Problem::bad_request("Invalid input.");
        problem.errors = Some(errors);
        problem
    }

    /// 400 with one field's error.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Problem {
        let mut errors = FieldErrors::new();
        errors.insert(field.to_owned(), vec![message.into()]);
        Problem::invalid(errors)
    }

    /// 401: no credentials, or credentials that are not valid. Says how to
    /// authenticate (`WWW-Authenticate: Bearer`).
    pub fn unauthorized(detail: impl Into<String>, invalid_token: bool) -> Problem {
        let challenge = if invalid_token {
            "Bearer error=\"invalid_token\""
        } else {
            "Bearer"
        };
        Problem::new(StatusCode::UNAUTHORIZED, detail)
            .header(WWW_AUTHENTICATE, HeaderValue::from_static(challenge))
    }

    /// 403: authenticated, but not allowed.
    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, detail)
    }

    /// 405, with the methods the resource allows.
    pub fn method_not_allowed(method: &http::Method, allowed: &[http::Method]) -> Problem {
        let list: Vec<&str> = allowed.iter().map(http::Method::as_str).collect();
        let allow = HeaderValue::from_str(&list.join(", ")).unwrap_or(HeaderValue::from_static(""));
        Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Method \"{method}\" not allowed."),
        )
        .header(ALLOW, allow)
    }

    /// 409: the request conflicts with the data (a row others still need).
    pub fn conflict(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::CONFLICT, detail)
    }

    /// 406: the client accepts no representation the API has.
    pub fn not_acceptable() -> Problem {
        Problem::new(
            StatusCode::NOT_ACCEPTABLE,
            "Could not satisfy the request Accept header: this API answers application/json.",
        )
    }

    /// 415: a body in a media type the API does not read.
    pub fn unsupported_media_type(content_type: Option<&str>) -> Problem {
        let detail = match content_type {
            Some(given) => {
                format!("Unsupported media type \"{given}\" in request: send application/json.")
            }
            None => "Missing Content-Type: send the body as application/json.".to_owned(),
        };
        Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, detail)
    }

    /// 422: well-formed JSON of the wrong shape.
    pub fn unprocessable(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }

    /// 429, saying when to come back.
    pub fn too_many_requests(retry_after_secs: u64) -> Problem {
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Request was throttled. Expected available in {retry_after_secs} seconds."),
        )
        .header(RETRY_AFTER, HeaderValue::from(retry_after_secs))
    }

    /// Adds a response header.
    #[must_use]
    pub fn header(mut self, name: http::HeaderName, value: HeaderValue) -> Problem {
        self.headers.push((name, value));
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The field errors, for a validation problem.
    pub fn errors(&self) -> Option<&FieldErrors> {
        self.errors.as_ref()
    }

    /// The document, as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        let mut document = serde_json::json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(errors) = &self.errors {
            document["errors"] = serde_json::to_value(errors).unwrap_or_default();
        }
        document
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.to_json().to_string()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        response
    }
}

/// A failed API request: a client's problem, or a server error.
#[derive(Debug)]
pub enum ApiError {
    /// A client error, answered as is.
    Problem(Problem),
    /// A server error (500), rendered by Estate's core.
    Server(estate::Error),
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        ApiError::Problem(problem)
    }
}

impl From<estate::Error> for ApiError {
    fn from(err: estate::Error) -> Self {
        ApiError::Server(err)
    }
}

impl From<estate::db::DbError> for ApiError {
    fn from(err: estate::db::DbError) -> Self {
        ApiError::Server(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Problem(problem) => problem.into_response(),
            ApiError::Server(err) => err.into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_have_the_rfc_9457_members_and_field_errors() {
        let problem = Problem::invalid_field("question_text", "This field is required.");
        assert_eq!(
            problem.to_json(),
            serde_json::json!({
                "type": "about:blank", "title": "Bad Request", "status": 400,
                "detail": "Invalid input.",
                "errors": {"question_text": ["This field is required."]}
            })
        );
        let response = Problem::too_many_requests(7).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[RETRY_AFTER], "7");
        assert_eq!(response.headers()[CONTENT_TYPE], PROBLEM_JSON);
        let response =
            Problem::method_not_allowed(&http::Method::PUT, &[http::Method::GET]).into_response();
        assert_eq!(response.headers()[ALLOW], "GET");
    }
}
