//! HTTP edge manners: a client that sends a body over the limit gets AWS's 413
//! `RequestEntityTooLarge` answer after sending it, not a reset connection, whether it announced
//! the length or sent the body in chunks.

use crate::common;

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const BODY: usize = 12 * 1024 * 1024;
const CHUNK: usize = 256 * 1024;

/// Sends `head`, then `BODY` bytes in chunks with a pause between them (slower than the server
/// decides), as a plain HTTP client does: everything first, then it reads the answer. Returns the
/// status line and the body of the answer, or what went wrong.
async fn send_slowly(addr: std::net::SocketAddr, head: &str, chunked: bool) -> Result<(String, String), String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    stream.write_all(head.as_bytes()).await.map_err(|e| format!("sending the headers: {e}"))?;
    let chunk = vec![b'A'; CHUNK];
    let mut sent = 0;
    while sent < BODY {
        let result = if chunked {
            let mut framed = format!("{CHUNK:x}\r\n").into_bytes();
            framed.extend_from_slice(&chunk);
            framed.extend_from_slice(b"\r\n");
            stream.write_all(&framed).await
        } else {
            stream.write_all(&chunk).await
        };
        result.map_err(|e| format!("sending the body after {sent} bytes: {e}"))?;
        sent += CHUNK;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    if chunked {
        stream.write_all(b"0\r\n\r\n").await.map_err(|e| format!("ending the body: {e}"))?;
    }
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.map_err(|e| format!("reading the answer: {e}"))?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

fn assert_too_large(answer: Result<(String, String), String>) {
    let (status, body) = answer.unwrap_or_else(|e| panic!("no answer: {e}"));
    assert_eq!(status, "HTTP/1.1 413 Payload Too Large", "{body}");
    assert!(body.contains("<Code>RequestEntityTooLarge</Code>"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_12_mb_post_gets_its_413_answer_after_sending_it() {
    let h = common::start().await;
    let addr = h.server.http_addr;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: tessera\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {BODY}\r\nConnection: close\r\n\r\n"
    );
    assert_too_large(send_slowly(addr, &head, false).await);
    let head = "POST / HTTP/1.1\r\nHost: tessera\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    assert_too_large(send_slowly(addr, head, true).await);
    // A request whose body was read whole keeps its plain answer: a length, no chunks.
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: tessera\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let head = answer.split_once("\r\n\r\n").unwrap().0.to_ascii_lowercase();
    assert!(head.contains("content-length:") && !head.contains("transfer-encoding"), "{head}");
    // The server is still there for everyone else.
    let (status, _) =
        common::signed_post(addr, "AKIAUNKNOWN000000000", "x", "Action=GetCallerIdentity&Version=2011-06-15").await;
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
    h.server.stop().await.unwrap();
}
