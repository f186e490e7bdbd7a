//! The router served over a real TCP socket: health, metrics and an
//! authenticated API call as an HTTP client sees them.

use pitcrew_core::admin::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::world;

async fn http(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut out = String::new();
    stream.read_to_string(&mut out).await.expect("read");
    out
}

#[tokio::test]
async fn health_metrics_and_api_answer_over_tcp() {
    let w = world(pitcrew_testkit::sqlite().await).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let app = w.app.clone();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let health = http(
        addr,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains(r#""status":"ok""#), "{health}");

    let token = w.token(Role::Viewer);
    let me = http(addr, &format!("GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")).await;
    assert!(
        me.starts_with("HTTP/1.1 200") && me.contains(r#""role":"viewer""#),
        "{me}"
    );

    let metrics = http(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(metrics.contains("pitcrew_http_requests_total"), "{metrics}");
    assert!(metrics.contains(r#"route="/api/v1/me""#), "{metrics}");
    server.abort();
}
