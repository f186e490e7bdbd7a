//! Streaming CSV downloads: an export writes into a pipe on its own task
//! and the answer streams the pipe, so any number of rows downloads in
//! constant memory. The answer waits for the first bytes, so an export
//! refused before writing anything (a role, an unknown id) still answers
//! with the usual JSON error.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body::Frame;
use pitcrew_app::AppError;
use tokio::io::{AsyncRead, AsyncReadExt, DuplexStream, ReadBuf};
use tokio::task::JoinHandle;

use crate::error::ApiError;

type ApiResult<T> = Result<T, ApiError>;

/// Bytes of an export held between the database and the client.
const EXPORT_BUFFER: usize = 64 * 1024;

/// Answer with the CSV that `export` writes into the pipe it is given,
/// offered as `filename`. `what` names the export in logs.
pub(crate) async fn csv<F, Fut>(
    filename: &str,
    what: &'static str,
    export: F,
) -> ApiResult<Response>
where
    F: FnOnce(DuplexStream) -> Fut,
    Fut: Future<Output = Result<u64, AppError>> + Send + 'static,
{
    let (writer, mut pipe) = tokio::io::duplex(EXPORT_BUFFER);
    // The writer moves into the export; when the export ends it is dropped,
    // which tells the reader the file has ended.
    let mut task = tokio::spawn(export(writer));
    let headers = headers(filename);
    let mut buf = vec![0; EXPORT_BUFFER].into_boxed_slice();
    let n = pipe.read(&mut buf).await.unwrap_or(0);
    if n == 0 {
        let written = (&mut task).await.map_err(|e| crashed(what, &e))?;
        written?;
        return Ok((StatusCode::OK, headers).into_response());
    }
    let body = CsvDownload {
        first: Some(Bytes::copy_from_slice(&buf[..n])),
        pipe,
        export: Some(task),
        buf,
    };
    Ok((StatusCode::OK, headers, Body::new(body)).into_response())
}

fn headers(filename: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let disposition = format!("attachment; filename=\"{filename}\"");
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers
}

fn crashed(what: &str, e: &tokio::task::JoinError) -> ApiError {
    tracing::error!(error = %e, export = what, "an export task failed");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "export_interrupted",
        "the export stopped before the end; start it again",
    )
}

/// The export as it runs: the bytes read ahead to learn that it started,
/// then the pipe it keeps writing into. When the pipe ends, the export's
/// own result says whether the file is complete; if not, the body fails so
/// the client sees a broken download rather than a short file.
struct CsvDownload {
    first: Option<Bytes>,
    pipe: DuplexStream,
    export: Option<JoinHandle<Result<u64, AppError>>>,
    buf: Box<[u8]>,
}

impl HttpBody for CsvDownload {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        let mut read = ReadBuf::new(&mut this.buf);
        ready!(Pin::new(&mut this.pipe).poll_read(cx, &mut read))?;
        if !read.filled().is_empty() {
            let data = Bytes::copy_from_slice(read.filled());
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        let Some(export) = this.export.as_mut() else {
            return Poll::Ready(None);
        };
        let outcome = ready!(Pin::new(export).poll(cx));
        this.export = None;
        Poll::Ready(match outcome {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(Err(std::io::Error::other(e.message))),
            Err(e) => Some(Err(std::io::Error::other(e.to_string()))),
        })
    }
}
