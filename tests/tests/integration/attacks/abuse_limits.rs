//! Abuse of the endpoint itself, against a real server on loopback: the promise is that a
//! client dribbling its headers is cut off, and that one address cannot flood the coordinator
//! (it is answered 429, in JSON, past its burst).
use std::time::Duration;

use mesh_coordinator::{AppConfig, RateLimit, ServeLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Target;
use crate::fixtures::serve_with_limits;

#[tokio::test]
async fn headers_sent_too_slowly_are_cut_off() {
    let target = Target::new();
    let limits = ServeLimits {
        header_read_timeout: Duration::from_millis(500),
        ..ServeLimits::default()
    };
    let (url, server) = serve_with_limits(&target.state, &AppConfig::default(), limits).await;
    let mut stream = TcpStream::connect(url.trim_start_matches("http://"))
        .await
        .unwrap();
    // Half a request line, then nothing: the server must close the connection on its own.
    stream
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Waits for the server to end the connection (a close or a reset both end the read).
    let mut answer = Vec::new();
    let _ended = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut answer))
        .await
        .expect("the server kept a connection whose headers never finished");
    let text = String::from_utf8_lossy(&answer);
    assert!(
        !text.contains("200 OK"),
        "an unfinished request was served: {text}"
    );
    server.abort();
}

#[tokio::test]
async fn one_address_cannot_flood_the_coordinator() {
    let target = Target::new();
    let config = AppConfig {
        per_ip_rate: Some(RateLimit {
            per_second: 1,
            burst: 5,
        }),
        ..AppConfig::default()
    };
    let (url, server) = serve_with_limits(&target.state, &config, ServeLimits::default()).await;
    let mut statuses = Vec::new();
    let mut refusal = String::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(url.trim_start_matches("http://"))
            .await
            .unwrap();
        stream
            .write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let text = String::from_utf8_lossy(&answer).into_owned();
        let status: u16 = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if status == 429 {
            refusal = text;
        }
        statuses.push(status);
    }
    let served = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    // The burst of 5 is served, plus a refill per second the loop takes (even a loaded machine
    // takes far less than 10 s); the rest are refused.
    assert!((5..=15).contains(&served), "{statuses:?}");
    assert_eq!(served + refused, 20, "{statuses:?}");
    assert!(refusal.contains("\"error\":\"rate_limited\""), "{refusal}");
    server.abort();
}
