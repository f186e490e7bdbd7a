//! The one error type of the web layer and the extractors that produce it:
//! every failure — a use-case error, a malformed body, a bad query or path,
//! an unknown route — answers with the same JSON shape and a stable code.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use pitcrew_app::{AppError, ErrorKind};
use pitcrew_core::record::FieldIssue;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Where in a JSON body a problem is.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// The body of every error response.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable, e.g. `field_invalid`, `json_invalid`.
    pub code: String,
    /// What went wrong and what to do about it.
    pub message: String,
    /// The offending input: a body member (`fields.country`), a query
    /// parameter or a path segment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Line and column in the request body, for malformed JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<Position>,
    /// Every problem, when there are several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<FieldIssue>,
}

/// An error on its way to becoming a response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Boxed: errors travel through `Result`s on every request path.
    pub detail: Box<ErrorDetail>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            detail: Box::new(ErrorDetail {
                code: code.to_string(),
                message: message.into(),
                field: None,
                at: None,
                details: Vec::new(),
            }),
        }
    }

    fn at(mut self, field: Option<String>, at: Option<Position>) -> ApiError {
        self.detail.field = field;
        self.detail.at = at;
        self
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        let status = match e.kind {
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError {
            status,
            detail: Box::new(ErrorDetail {
                code: e.code.to_string(),
                message: e.message,
                field: e.field,
                at: None,
                details: e.details,
            }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(ErrorBody {
                error: *self.detail,
            }),
        )
            .into_response()
    }
}

/// A JSON request body, with errors that say where the body is wrong.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content_type_invalid",
                "send the body as JSON with the header Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(_) => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!(
                    "the request body is larger than {} bytes; send less at a time",
                    crate::MAX_BODY_BYTES
                ),
            ),
            other => ApiError::new(
                StatusCode::BAD_REQUEST,
                "body_unreadable",
                other.body_text(),
            ),
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parse a JSON body, naming the member path and position of any problem.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let at = Some(Position {
            line: inner.line(),
            column: inner.column(),
        });
        let (code, message) = if inner.is_syntax() || inner.is_eof() {
            (
                "json_invalid",
                format!("the body is not valid JSON: {inner}"),
            )
        } else {
            (
                "body_invalid",
                format!("the body does not match what this endpoint takes: {inner}"),
            )
        };
        let field = Some(path).filter(|p| p != ".");
        ApiError::new(StatusCode::BAD_REQUEST, code, message).at(field, at)
    })
}

/// Query parameters, with errors in the common shape.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| {
                ApiError::new(StatusCode::BAD_REQUEST, "query_invalid", e.body_text())
            })
    }
}

/// Path parameters, with errors in the common shape.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e: PathRejection| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "path_invalid",
                    format!("{}; ids are whole numbers", e.body_text()),
                )
            })
    }
}

pub async fn route_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        "there is no such endpoint; the API is described at /api/openapi.json",
    )
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that HTTP method; see /api/openapi.json",
    )
}
