//! The HTTP side: SigV4-signed AWS Query `POST`s (`QueryCall`), sent over one kept-alive
//! HTTP/1.1 connection per worker (`Connection`, reopened after an error).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use tessera_sigv4::{PayloadHash, SigningParams};
use tokio::net::TcpStream;

const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// An access key.
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) id: String,
    pub(crate) secret: String,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key").field("id", &self.id).field("secret", &"***").finish()
    }
}

/// Why one call failed: `kind` groups failures in the report (`HTTP 400 Throttling`,
/// `gRPC Unavailable`, `timeout`), `message` is the first detail seen.
#[derive(Debug, Clone)]
pub(crate) struct CallError {
    pub(crate) kind: String,
    pub(crate) message: String,
}

impl CallError {
    pub(crate) fn new(kind: impl Into<String>, message: impl fmt::Display) -> Self {
        Self { kind: kind.into(), message: message.to_string() }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() { f.write_str(&self.kind) } else { write!(f, "{}: {}", self.kind, self.message) }
    }
}

impl std::error::Error for CallError {}

/// One AWS Query API request: the service it is signed for and its form body, encoded and
/// hashed once; only the date and signature change per request.
#[derive(Debug)]
pub(crate) struct QueryCall {
    service: &'static str,
    body: Bytes,
    hash: PayloadHash,
}

impl QueryCall {
    /// `params` (`Action` and `Version` included), form-encoded.
    pub(crate) fn new(service: &'static str, params: &[(&str, &str)]) -> Self {
        let body = params
            .iter()
            .map(|(name, value)| format!("{}={}", tessera_sigv4::uri_encode(name), tessera_sigv4::uri_encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        let hash = PayloadHash::of(body.as_bytes());
        Self { service, body: Bytes::from(body), hash }
    }

    /// The request to `authority` (`host:port`), signed now with `key`, as an SDK signs each call.
    pub(crate) fn request(&self, authority: &str, key: &Key, region: &str) -> Request<Full<Bytes>> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        let amz_date = tessera_sigv4::format_amz_date(now);
        let headers = [("host", authority), ("content-type", FORM), ("x-amz-date", amz_date.as_str())];
        let signed =
            tessera_sigv4::Request { method: "POST", path: "/", query: "", headers: &headers, body_sha256: self.hash };
        let params = SigningParams {
            access_key_id: &key.id,
            secret: key.secret.as_bytes(),
            region,
            service: self.service,
            amz_date: &amz_date,
        };
        let authorization = tessera_sigv4::sign(&signed, &params);
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = hyper::Method::POST;
        *request.uri_mut() = hyper::Uri::from_static("/");
        let headers = request.headers_mut();
        // The values are ASCII by construction (an authority, a date, a SigV4 header).
        for (name, value) in
            [(header::HOST, authority), (header::CONTENT_TYPE, FORM), (header::AUTHORIZATION, &authorization)]
        {
            if let Ok(value) = value.parse() {
                headers.insert(name, value);
            }
        }
        if let Ok(value) = amz_date.parse() {
            headers.insert("x-amz-date", value);
        }
        request
    }
}

/// One kept-alive HTTP/1.1 connection to `authority`.
#[derive(Debug)]
pub(crate) struct Connection {
    authority: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    /// Connects now, so an unreachable target fails the run before it starts.
    pub(crate) async fn open(authority: &str) -> Result<Self, CallError> {
        let sender = connect(authority).await?;
        Ok(Self { authority: authority.to_owned(), sender: Some(sender) })
    }

    /// Sends `request` and reads the whole response. After any failure the connection is
    /// dropped and the next call opens another.
    pub(crate) async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes), CallError> {
        let mut sender = match self.sender.take() {
            Some(mut sender) => match sender.ready().await {
                Ok(()) => sender,
                // The server closed it (idle timeout, `Connection: close`): open another.
                Err(_) => connect(&self.authority).await?,
            },
            None => connect(&self.authority).await?,
        };
        let response = sender.send_request(request).await.map_err(|e| CallError::new("HTTP connection", e))?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| CallError::new("HTTP connection", e))?.to_bytes();
        self.sender = Some(sender);
        Ok((status, body))
    }

    /// Sends `request`; a status other than 200 is an error named by its AWS error code.
    pub(crate) async fn query(&mut self, request: Request<Full<Bytes>>) -> Result<Bytes, CallError> {
        let (status, body) = self.send(request).await?;
        if status == StatusCode::OK {
            return Ok(body);
        }
        let text = String::from_utf8_lossy(&body);
        let code = xml_text(&text, "Code").unwrap_or_default();
        let message = xml_text(&text, "Message").unwrap_or_default();
        Err(CallError::new(format!("HTTP {} {code}", status.as_u16()).trim_end().to_owned(), message))
    }
}

async fn connect(authority: &str) -> Result<SendRequest<Full<Bytes>>, CallError> {
    let stream =
        TcpStream::connect(authority).await.map_err(|e| CallError::new("connect", format!("{authority}: {e}")))?;
    // Without it a small request can wait for the peer's delayed ACK (Nagle).
    let _ = stream.set_nodelay(true);
    let (sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| CallError::new("connect", e))?;
    tokio::spawn(async move {
        // An error here also fails the pending `send`, which reports it.
        let _ = connection.await;
    });
    Ok(sender)
}

/// The text of the first `<tag>` element of an AWS XML answer (no entity decoding: the values
/// read here, ids, keys and codes, never need any).
pub(crate) fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(&xml[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_finds_the_first_element() {
        let xml =
            "<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>";
        assert_eq!(xml_text(xml, "Code"), Some("Throttling"));
        assert_eq!(xml_text(xml, "Message"), Some("Rate exceeded"));
        assert_eq!(xml_text(xml, "RequestId"), None);
    }

    #[test]
    fn a_query_call_is_form_encoded_and_signed_for_its_service() {
        let call = QueryCall::new("iam", &[("Action", "GetUser"), ("UserName", "a b/c")]);
        assert_eq!(&call.body[..], b"Action=GetUser&UserName=a%20b%2Fc");
        let key = Key { id: "AKIAEXAMPLE".into(), secret: "secret".into() };
        let request = call.request("127.0.0.1:8080", &key, "us-east-1");
        let authorization = request.headers()[header::AUTHORIZATION].to_str().unwrap();
        assert!(authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/"), "{authorization}");
        assert!(authorization.contains("/us-east-1/iam/aws4_request"), "{authorization}");
        assert!(authorization.contains("SignedHeaders=content-type;host;x-amz-date"), "{authorization}");
        assert_eq!(request.headers()[header::HOST], "127.0.0.1:8080");
    }
}
