//! The Segment Spec HTTP tracking API under `/v1`: what the official
//! Segment SDKs send, authenticated by a source's write key.
//!
//! A request's messages are all stored (in one transaction) before the
//! answer, so a 200 means durably stored. Invalid messages in a batch are
//! reported one by one with their position; the valid ones are kept.

use std::io::Read;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use pitcrew_app::ingest::{self, IngestReport, ItemProblem, Sender};
use pitcrew_app::now_ms;
use pitcrew_core::event::{BatchDefaults, MessageType, parse_message};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ErrorDetail, parse_json};

/// Size limits of the tracking API (the Segment defaults unless configured).
#[derive(Debug, Clone, Copy)]
pub struct IngestLimits {
    /// Largest single message, in bytes.
    pub message_bytes: usize,
    /// Largest request body (after gzip), in bytes.
    pub batch_bytes: usize,
    /// Most messages in one batch.
    pub batch_messages: usize,
}

impl Default for IngestLimits {
    fn default() -> IngestLimits {
        IngestLimits {
            message_bytes: 32 * 1024,
            batch_bytes: 500 * 1024,
            batch_messages: 2500,
        }
    }
}

pub fn routes(r: OpenApiRouter<AppState>, limits: IngestLimits) -> OpenApiRouter<AppState> {
    // gzip bodies are decompressed and checked against `batch_bytes` again.
    let body_limit = DefaultBodyLimit::max(limits.batch_bytes);
    r.routes(routes!(identify).layer(body_limit))
        .routes(routes!(track).layer(body_limit))
        .routes(routes!(page).layer(body_limit))
        .routes(routes!(screen).layer(body_limit))
        .routes(routes!(group).layer(body_limit))
        .routes(routes!(alias).layer(body_limit))
        .routes(routes!(batch).layer(body_limit))
        .routes(routes!(import).layer(body_limit))
}

/// What every tracking call answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngestResponse {
    /// True when at least one message was stored or recognised as a duplicate.
    pub success: bool,
    #[serde(flatten)]
    pub report: IngestReport,
    /// Why nothing was stored, when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

fn too_large(code: &str, what: &str, limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        code,
        format!("{what} is larger than {limit}; send smaller batches (the SDKs' defaults fit)"),
    )
}

/// The body, gunzipped when sent with `Content-Encoding: gzip`.
async fn body(req: Request, limits: IngestLimits) -> Result<(HeaderMap, Vec<u8>), ApiError> {
    let headers = req.headers().clone();
    let raw = Bytes::from_request(req, &()).await.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(_) => {
            too_large("batch_too_large", "the request body", limits.batch_bytes)
        }
        other => ApiError::new(
            StatusCode::BAD_REQUEST,
            "body_unreadable",
            other.body_text(),
        ),
    })?;
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    if !gzip {
        return Ok((headers, raw.to_vec()));
    }
    let mut out = Vec::new();
    let cap = u64::try_from(limits.batch_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    flate2::read::GzDecoder::new(&raw[..])
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "gzip_invalid",
                "the body says it is gzip but does not decompress; send it plain or valid gzip",
            )
        })?;
    if out.len() > limits.batch_bytes {
        return Err(too_large(
            "batch_too_large",
            "the decompressed body",
            limits.batch_bytes,
        ));
    }
    Ok((headers, out))
}

/// The write key: HTTP Basic username (empty password), `writeKey` in the
/// body, or the `X-Write-Key` header / `writeKey` query some SDKs use.
fn write_key(headers: &HeaderMap, query: Option<&str>, body: &Value) -> Option<String> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(basic.trim())
        && let Ok(text) = String::from_utf8(decoded)
    {
        let user = text.split(':').next().unwrap_or_default();
        if !user.is_empty() {
            return Some(user.to_string());
        }
    }
    if let Some(k) = body.get("writeKey").and_then(Value::as_str) {
        return Some(k.to_string());
    }
    if let Some(k) = headers.get("x-write-key").and_then(|v| v.to_str().ok()) {
        return Some(k.to_string());
    }
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case("writekey"))
        .map(|(_, v)| v.to_string())
}

async fn receive(
    state: AppState,
    req: Request,
    kind: Option<MessageType>,
) -> Result<Response, ApiError> {
    let limits = state.ingest_limits;
    let query = req.uri().query().map(str::to_string);
    let (headers, bytes) = body(req, limits).await?;
    if kind.is_some() && bytes.len() > limits.message_bytes {
        return Err(too_large(
            "message_too_large",
            "the message",
            limits.message_bytes,
        ));
    }
    let json: Value = parse_json(&bytes)?;
    let Some(key) = write_key(&headers, query.as_deref(), &json) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "write_key_missing",
            "send the source's write key as the HTTP Basic username (empty password), or as `writeKey` in the body",
        ));
    };
    let Some(sender) = ingest::sender(&state.db, &key).await? else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "write_key_invalid",
            "this write key is unknown or revoked; create a source with `pitcrew source create` or in Settings",
        ));
    };
    let received = now_ms();
    let messages = match kind {
        Some(k) => vec![(
            0,
            parse_message(&json, Some(k), &BatchDefaults::default(), received),
        )],
        None => batch_messages(&json, limits, received)?,
    };
    let report = ingest::ingest(&state.db, &sender, messages, received).await?;
    Ok(answer(report, &sender))
}

fn batch_messages(
    json: &Value,
    limits: IngestLimits,
    received: i64,
) -> Result<Vec<pitcrew_core::event::Checked>, ApiError> {
    let Some(items) = json.get("batch").and_then(Value::as_array) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "batch_missing",
            "a batch body is {\"batch\": [ ...messages ]}",
        ));
    };
    if items.len() > limits.batch_messages {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "a batch holds at most {} messages, this one {}; split it",
                limits.batch_messages,
                items.len()
            ),
        ));
    }
    let defaults = BatchDefaults {
        context: json
            .get("context")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_else(Map::new),
        sent_at: json
            .get("sentAt")
            .and_then(Value::as_str)
            .and_then(|s| pitcrew_core::time::parse_instant(s).ok())
            .map(|t| t.as_millisecond()),
    };
    Ok(items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let size = serde_json::to_vec(item).map_or(0, |v| v.len());
            if size > limits.message_bytes {
                return (
                    i,
                    Err(pitcrew_core::event::MessageError {
                        code: "message_too_large",
                        message: format!(
                            "message {i} is {size} bytes; the limit is {}",
                            limits.message_bytes
                        ),
                    }),
                );
            }
            (i, parse_message(item, None, &defaults, received))
        })
        .collect())
}

fn answer(report: IngestReport, sender: &Sender) -> Response {
    let stored_any = report.accepted + report.duplicates > 0;
    if stored_any || report.rejected.is_empty() {
        return Json(IngestResponse {
            success: true,
            report,
            error: None,
        })
        .into_response();
    }
    let first: Option<&ItemProblem> = report.rejected.first();
    let (code, message) = match (first, report.rejected.len()) {
        (Some(p), 1) => (p.code.clone(), p.message.clone()),
        (Some(p), n) => (
            "messages_rejected".to_string(),
            format!(
                "all {n} messages were refused; see `rejected`. First: {}",
                p.message
            ),
        ),
        (None, _) => (
            "messages_rejected".to_string(),
            "nothing was stored".to_string(),
        ),
    };
    tracing::debug!(source = sender.source.id, code = %code, "tracking call refused");
    let error = ErrorDetail {
        code,
        message,
        field: None,
        at: None,
        details: Vec::new(),
    };
    (
        StatusCode::BAD_REQUEST,
        Json(IngestResponse {
            success: false,
            report,
            error: Some(error),
        }),
    )
        .into_response()
}

use axum::Json;

macro_rules! tracking_call {
    ($name:ident, $path:literal, $kind:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "tracking", security(("write_key" = [])),
            request_body(content = Object, description = "A Segment Spec message"),
            responses((status = 200, body = IngestResponse), (status = 400, body = IngestResponse), (status = 401, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody)))]
        async fn $name(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
            receive(state, req, $kind).await
        }
    };
}

tracking_call!(
    identify,
    "/v1/identify",
    Some(MessageType::Identify),
    "Who a person is: `userId` and/or `anonymousId` with `traits`."
);
tracking_call!(
    track,
    "/v1/track",
    Some(MessageType::Track),
    "Something a person did: `event` with `properties`."
);
tracking_call!(
    page,
    "/v1/page",
    Some(MessageType::Page),
    "A page view: `name` and `properties` (url, path, referrer, title, …)."
);
tracking_call!(
    screen,
    "/v1/screen",
    Some(MessageType::Screen),
    "A screen view in an app."
);
tracking_call!(
    group,
    "/v1/group",
    Some(MessageType::Group),
    "The account a person belongs to: `groupId` with account `traits`."
);
tracking_call!(
    alias,
    "/v1/alias",
    Some(MessageType::Alias),
    "Two ids of one person: `previousId` and `userId`."
);
tracking_call!(
    batch,
    "/v1/batch",
    None,
    "Up to 2,500 messages, each with its `type`; top-level `context` applies to all."
);
tracking_call!(
    import,
    "/v1/import",
    None,
    "The same as `/v1/batch`, for historical data."
);
