//! Connection limits shared by the HTTP and the gRPC listener, so that slow, idle, half-open or
//! simply too many connections cannot starve `/healthz` or real clients.
//!
//! ```text
//! accept (TCP_NODELAY, TCP keepalive) --at most --max-connections open, else wait (logged)-->
//!   Conn: the socket + its permit + an idle timer
//!   HTTP: hyper http1 (header read timeout) -> Track -> request timeout -> axum routes
//!   gRPC: tonic (request timeout, HTTP/2 PINGs)  -> Track -> [grpc auth] -> services
//! ```
//!
//! - **Header read timeout** (HTTP/1.1, hyper's): a client must send a request's headers within
//!   it. hyper also runs this timer while a kept-alive connection waits for its next request.
//! - **Idle timeout** (both): a connection with no request in flight for this long is closed.
//!   [`Track`] counts a connection's requests in flight, from the call until the response body
//!   is dropped, so streams are never cut; the socket wrapper [`Conn`] fails its reads and writes
//!   once the connection has been idle too long, and the HTTP stack closes it. This is what closes
//!   a connection that never completes a request or an HTTP/2 handshake, and one whose peer stops
//!   reading its response.
//! - **Request timeout** (both): tower's timeout around the routes (answered 503
//!   `ServiceUnavailable`), tonic's `Server::timeout` for gRPC (a smaller `grpc-timeout` from the
//!   client wins). It bounds slow request bodies too. A gRPC stream's messages, once the stream
//!   is open, are not limited.
//! - **Connection cap** (per listener): a semaphore permit per open connection, taken before
//!   `accept`; at the cap, new connections wait in the kernel's backlog until one closes, and the
//!   server says so once (then at most once a minute while it lasts).
//! - **Keepalive**: TCP keepalive probes find peers that vanished; on gRPC connections, HTTP/2
//!   PINGs do the same for long streams (no acknowledgement within [`PING_ACK_TIMEOUT`] closes it).
//!
//! - **Unread request bodies** (HTTP): when a handler answers without reading all of a request's
//!   body (over the body limit: 413 `RequestEntityTooLarge`), closing the connection with the rest
//!   unread would reset it, and a client still sending would see a broken pipe instead of the
//!   answer. [`DrainLayer`] hands what the handler left to the response, which, once its own bytes
//!   are out, reads and discards up to [`DRAIN_LIMIT`] bytes within the request timeout, so the
//!   client finishes sending and reads the answer. Past either bound the connection is closed.
//!
//! When the connections go, so do their tasks and buffers: [`Gate::open`] returns to zero, which
//! the tests check.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::{Instant, Sleep};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Connected, TcpConnectInfo, TcpIncoming};
use tower::{Layer, Service};

/// How long a gRPC peer has to acknowledge an HTTP/2 PING before its connection is closed.
pub const PING_ACK_TIMEOUT: Duration = Duration::from_secs(20);
/// The most of an unread request body read and discarded after the answer (see the module docs).
pub const DRAIN_LIMIT: u64 = 64 * 1024 * 1024;
/// Descriptors kept for everything but connections (store, logs, outgoing connections).
const RESERVED_FILES: u64 = 256;
/// The shortest gap between two "connection limit reached" lines of one listener.
const FULL_LOG_EVERY: Duration = Duration::from_secs(60);

const HEADER_READ_TIMEOUT: &str = "10s";
const IDLE_TIMEOUT: &str = "60s";
const REQUEST_TIMEOUT: &str = "30s";
const MAX_CONNECTIONS: &str = "4096";
const KEEPALIVE_INTERVAL: &str = "30s";

/// The limits of both listeners (`tessera serve` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct ConnectionLimits {
    /// How long an HTTP client may take to send a request's headers (it also bounds how long a
    /// kept-alive HTTP/1.1 connection waits for its next request). `500ms`, `10s`, `2m`, ...
    #[arg(long, env = "TESSERA_HEADER_READ_TIMEOUT", default_value = HEADER_READ_TIMEOUT, value_parser = parse_duration)]
    pub header_read_timeout: Duration,
    /// A connection (HTTP or gRPC) with no request in flight for this long is closed.
    #[arg(long, env = "TESSERA_IDLE_TIMEOUT", default_value = IDLE_TIMEOUT, value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// The longest a request may take to be answered, reading its body included (gRPC: the
    /// longest deadline a client gets; a stream's messages are not limited once it is open).
    #[arg(long, env = "TESSERA_REQUEST_TIMEOUT", default_value = REQUEST_TIMEOUT, value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Open connections per listener; more wait until one closes. Keep it below the process's
    /// open-file limit.
    #[arg(long, env = "TESSERA_MAX_CONNECTIONS", default_value = MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Silence after which TCP keepalive probes (both listeners) and HTTP/2 PINGs (gRPC) check
    /// that the peer is still there.
    #[arg(long, env = "TESSERA_KEEPALIVE_INTERVAL", default_value = KEEPALIVE_INTERVAL, value_parser = parse_duration)]
    pub keepalive_interval: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        let duration = |text| parse_duration(text).unwrap_or(Duration::from_secs(30));
        Self {
            header_read_timeout: duration(HEADER_READ_TIMEOUT),
            idle_timeout: duration(IDLE_TIMEOUT),
            request_timeout: duration(REQUEST_TIMEOUT),
            max_connections: MAX_CONNECTIONS.parse().unwrap_or(4096),
            keepalive_interval: duration(KEEPALIVE_INTERVAL),
        }
    }
}

/// Parses `250ms`, `10s`, `5m`, `1h`, or a bare number of seconds; zero is refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("`{text}` is not a duration such as 500ms, 10s or 2m"))?;
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "" | "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number.saturating_mul(60)),
        "h" => Duration::from_secs(number.saturating_mul(3600)),
        _ => return Err(format!("`{text}`: unknown unit `{unit}` (expected ms, s, m or h)")),
    };
    if duration.is_zero() {
        return Err(format!("`{text}`: must be more than zero"));
    }
    Ok(duration)
}

/// Every connection is a file descriptor: raises the soft open-file limit to the hard one (as Go's
/// runtime does), and warns when even that cannot hold both listeners at their cap, in which case
/// `accept` would fail before the cap is reached.
pub(crate) fn ensure_open_files(limits: &ConnectionLimits) {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let mut limit = getrlimit(Resource::Nofile);
        if let (Some(soft), Some(hard)) = (limit.current, limit.maximum)
            && soft < hard
            && setrlimit(Resource::Nofile, Rlimit { current: Some(hard), maximum: Some(hard) }).is_ok()
        {
            limit = getrlimit(Resource::Nofile);
        }
        let needed = 2 * u64::from(limits.max_connections) + RESERVED_FILES;
        if let Some(soft) = limit.current
            && soft < needed
        {
            tracing::warn!(
                open_file_limit = soft,
                max_connections = limits.max_connections,
                "the open-file limit cannot hold both listeners at --max-connections: lower it, or raise the limit"
            );
        }
    }
}

/// One listener's connection cap, and how many of its connections are open.
#[derive(Debug, Clone)]
pub struct Gate {
    listener: &'static str,
    max: u32,
    /// One per open connection, plus the one the accept loop holds while it waits.
    permits: Arc<Semaphore>,
    open: Arc<AtomicUsize>,
    last_full_log: Arc<Mutex<Option<Instant>>>,
}

impl Gate {
    pub(crate) fn new(listener: &'static str, max: u32) -> Self {
        let permits = usize::try_from(max).unwrap_or(usize::MAX).min(Semaphore::MAX_PERMITS);
        Self {
            listener,
            max,
            permits: Arc::new(Semaphore::new(permits)),
            open: Arc::default(),
            last_full_log: Arc::default(),
        }
    }

    /// Connections open now (accepted and not yet closed).
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// A permit for one more connection, waiting (and saying so) while the listener is full.
    async fn admit(&self) -> Option<OwnedSemaphorePermit> {
        if let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() {
            return Some(permit);
        }
        let now = Instant::now();
        let log = {
            let mut last = self.last_full_log.lock().unwrap_or_else(PoisonError::into_inner);
            let due = last.is_none_or(|at| now.duration_since(at) >= FULL_LOG_EVERY);
            if due {
                *last = Some(now);
            }
            due
        };
        if log {
            tracing::warn!(
                listener = self.listener,
                max_connections = self.max,
                "connection limit reached: new connections wait until open ones close (--max-connections)"
            );
        }
        Arc::clone(&self.permits).acquire_owned().await.ok()
    }
}

/// Accepts connections on `listener` while `gate` has room, as a stream for tonic or the HTTP
/// loop. Accepting stops when the stream is dropped.
pub(crate) fn incoming(
    listener: TcpListener,
    gate: Gate,
    limits: &ConnectionLimits,
) -> ReceiverStream<io::Result<Conn>> {
    let (tx, rx) = mpsc::channel(1);
    let mut sockets = TcpIncoming::from(listener)
        // Without TCP_NODELAY a response that waits on the store sits in Nagle's buffer until the
        // client's delayed ACK (about 40 ms).
        .with_nodelay(Some(true))
        .with_keepalive(Some(limits.keepalive_interval))
        .with_keepalive_interval(Some(limits.keepalive_interval));
    let idle_timeout = limits.idle_timeout;
    tokio::spawn(async move {
        loop {
            let permit = tokio::select! {
                () = tx.closed() => return,
                permit = gate.admit() => match permit { Some(permit) => permit, None => return },
            };
            let accepted = tokio::select! {
                () = tx.closed() => return,
                accepted = sockets.next() => accepted,
            };
            match accepted {
                Some(Ok(socket)) => {
                    let admitted = Admitted::new(permit, &gate.open);
                    if tx.send(Ok(Conn::new(socket, admitted, idle_timeout))).await.is_err() {
                        return;
                    }
                }
                Some(Err(error)) if is_per_connection(&error) => {}
                Some(Err(error)) => {
                    // Out of file descriptors, most likely: give closing connections a moment
                    // rather than spinning on accept.
                    tracing::warn!(listener = gate.listener, %error, "cannot accept connections");
                    drop(permit);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                None => return,
            }
        }
    });
    ReceiverStream::new(rx)
}

/// Errors about one connection (the peer gave up before `accept`), not about the listener.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// A connection's place under its listener's cap, given back when the connection is dropped.
#[derive(Debug)]
struct Admitted {
    _permit: OwnedSemaphorePermit,
    open: Arc<AtomicUsize>,
}

impl Admitted {
    fn new(permit: OwnedSemaphorePermit, open: &Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::AcqRel);
        Self { _permit: permit, open: Arc::clone(open) }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a connection's requests in flight and idle time are, shared by its socket ([`Conn`]) and
/// its requests ([`Track`]).
#[derive(Debug)]
struct Activity {
    in_flight: AtomicUsize,
    /// When the last request ended (or the connection opened), in nanoseconds after `opened`.
    idle_since: AtomicU64,
    opened: Instant,
}

impl Activity {
    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(Arc::clone(self))
    }

    /// When the connection may be closed for idleness; `None` while a request is in flight.
    fn idle_deadline(&self, idle_timeout: Duration) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let since = Duration::from_nanos(self.idle_since.load(Ordering::Acquire));
        Some(self.opened + since + idle_timeout)
    }
}

/// One request in flight on a connection, until the response body is dropped.
#[derive(Debug)]
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        let since = u64::try_from(self.0.opened.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.0.idle_since.store(since, Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An accepted connection: the socket, its place under the cap, and the idle timer. Reads and
/// writes that would wait fail with `TimedOut` once the connection has been idle too long.
#[derive(Debug)]
pub struct Conn {
    socket: TcpStream,
    activity: Arc<Activity>,
    idle_timeout: Duration,
    timer: Pin<Box<Sleep>>,
    _admitted: Admitted,
}

impl Conn {
    fn new(socket: TcpStream, admitted: Admitted, idle_timeout: Duration) -> Self {
        let opened = Instant::now();
        let activity = Arc::new(Activity { in_flight: AtomicUsize::new(0), idle_since: AtomicU64::new(0), opened });
        let timer = Box::pin(tokio::time::sleep_until(opened + idle_timeout));
        Self { socket, activity, idle_timeout, timer, _admitted: admitted }
    }

    pub(crate) fn peer(&self) -> Option<SocketAddr> {
        self.socket.peer_addr().ok()
    }

    /// Called when the socket would wait: an error once idle too long, else the timer is armed to
    /// wake the connection when it could be (while busy it rechecks every idle timeout). Each
    /// request that ends moves the deadline later; the timer is not moved with it (that was a timer
    /// wheel update per request): it fires at the earlier deadline and is re-armed then.
    fn check_idle(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        loop {
            match self.activity.idle_deadline(self.idle_timeout) {
                Some(deadline) if deadline <= Instant::now() => {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "connection idle for too long"));
                }
                Some(deadline) if self.timer.is_elapsed() || self.timer.deadline() > deadline => {
                    self.timer.as_mut().reset(deadline);
                }
                Some(_) => {}
                None if self.timer.is_elapsed() => self.timer.as_mut().reset(Instant::now() + self.idle_timeout),
                None => {}
            }
            if self.timer.as_mut().poll(cx).is_pending() {
                return Ok(());
            }
        }
    }

    fn pending_or_idle<T>(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match polled {
            Poll::Pending => match self.check_idle(cx) {
                Ok(()) => Poll::Pending,
                Err(error) => Poll::Ready(Err(error)),
            },
            ready => ready,
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.socket).poll_read(cx, buf);
        this.pending_or_idle(cx, polled)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.socket).poll_write(cx, buf);
        this.pending_or_idle(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.socket).poll_write_vectored(cx, bufs);
        this.pending_or_idle(cx, polled)
    }

    /// Declared not vectored, though the socket is: h2 then copies a DATA frame of up to 1 KiB
    /// into its write buffer (with vectored I/O, only up to 256 bytes) and keeps encoding, so the
    /// answers that finish together leave in one write. A vectored connection holds every larger
    /// frame apart and must write it before encoding the next: one `writev` per answer, and an
    /// authorizer answer (the caller and the explanation) is 300-600 bytes. Hyper's HTTP/1 then
    /// flattens head and body into one buffer, one write per answer as before.
    fn is_write_vectored(&self) -> bool {
        false
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.socket).poll_flush(cx);
        this.pending_or_idle(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().socket).poll_shutdown(cx)
    }
}

/// What tonic hands to each request of a connection (and the HTTP loop inserts itself).
#[derive(Debug, Clone)]
pub struct ConnInfo {
    tcp: TcpConnectInfo,
    activity: Arc<Activity>,
}

impl Connected for Conn {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        ConnInfo { tcp: self.socket.connect_info(), activity: Arc::clone(&self.activity) }
    }
}

/// Counts a connection's requests in flight (see [`Activity`]) and gives each request the plain
/// [`TcpConnectInfo`] (tonic's `remote_addr`, `aws:SourceIp`). Put it outermost.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrackLayer;

impl<S> Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track { inner }
    }
}

#[derive(Debug, Clone)]
pub struct Track<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<axum::http::Request<ReqBody>> for Track<S>
where
    S: Service<axum::http::Request<ReqBody>, Response = axum::http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = axum::http::Response<Tracked<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: axum::http::Request<ReqBody>) -> Self::Future {
        let info = request.extensions().get::<ConnInfo>().cloned();
        let busy = info.map(|info| {
            request.extensions_mut().insert(info.tcp);
            info.activity.begin()
        });
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| Tracked { body, _busy: busy }))
        })
    }
}

/// A response body that keeps its request counted as in flight until it is dropped.
#[derive(Debug)]
pub struct Tracked<B> {
    body: B,
    _busy: Option<Busy>,
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// What a handler left unread of one request's body, for the response to drain.
type Leftover = Arc<Mutex<Option<hyper::body::Incoming>>>;

/// Gives each request a [`Drainable`] body and each response a [`Drained`] one sharing its
/// leftover (see the module docs). HTTP only: gRPC streams are never left half-read.
#[derive(Debug, Clone, Copy)]
pub struct DrainLayer {
    pub deadline: Duration,
}

impl<S> Layer<S> for DrainLayer {
    type Service = Drain<S>;

    fn layer(&self, inner: S) -> Drain<S> {
        Drain { inner, deadline: self.deadline }
    }
}

#[derive(Debug, Clone)]
pub struct Drain<S> {
    inner: S,
    deadline: Duration,
}

impl<S, ResBody> Service<axum::http::Request<hyper::body::Incoming>> for Drain<S>
where
    S: Service<axum::http::Request<Drainable>, Response = axum::http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = axum::http::Response<Drained<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<hyper::body::Incoming>) -> Self::Future {
        // A client waiting for `100 Continue` sends nothing unless asked: never ask on its behalf.
        let expects_continue = request
            .headers()
            .get(axum::http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let leftover = Leftover::default();
        let request = request.map(|body| Drainable {
            body: Some(body),
            ended: false,
            polled: false,
            expects_continue,
            leftover: Arc::clone(&leftover),
        });
        let response = self.inner.call(request);
        let deadline = self.deadline;
        Box::pin(async move {
            let mut response = response.await?;
            let leftover = leftover.lock().unwrap_or_else(PoisonError::into_inner).take();
            if leftover.is_some() {
                // hyper stops polling a body once its announced length is written: announce none
                // (chunked), so the body ends only when the drain does.
                response.headers_mut().remove(axum::http::header::CONTENT_LENGTH);
            }
            Ok(response.map(|body| Drained { body, leftover, state: DrainState::Answering, deadline }))
        })
    }
}

/// A request body that, dropped before its end, leaves the rest for the response to drain.
#[derive(Debug)]
pub struct Drainable {
    body: Option<hyper::body::Incoming>,
    ended: bool,
    polled: bool,
    expects_continue: bool,
    leftover: Leftover,
}

impl Body for Drainable {
    type Data = hyper::body::Bytes;
    type Error = hyper::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        this.polled = true;
        let Some(body) = this.body.as_mut() else { return Poll::Ready(None) };
        let polled = Pin::new(body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            this.ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.body.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body.as_ref().map(Body::size_hint).unwrap_or_default()
    }
}

impl Drop for Drainable {
    fn drop(&mut self) {
        if self.is_end_stream() || (self.expects_continue && !self.polled) {
            return;
        }
        *self.leftover.lock().unwrap_or_else(PoisonError::into_inner) = self.body.take();
    }
}

#[derive(Debug)]
enum DrainState {
    /// The response's own frames.
    Answering,
    /// Discarding the request's rest: bytes read so far, and when to give up.
    Draining {
        body: hyper::body::Incoming,
        read: u64,
        until: Pin<Box<Sleep>>,
    },
    Done,
}

/// A response body that, after its own frames, drains what its request's handler left unread.
#[derive(Debug)]
pub struct Drained<B> {
    body: B,
    /// What the handler left unread when it answered (nothing, almost always).
    leftover: Option<hyper::body::Incoming>,
    state: DrainState,
    deadline: Duration,
}

impl<B: Body<Data = hyper::body::Bytes> + Unpin> Body for Drained<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                DrainState::Answering => match Pin::new(&mut this.body).poll_frame(cx) {
                    Poll::Ready(None) => {
                        this.state = match this.leftover.take() {
                            Some(body) => DrainState::Draining {
                                body,
                                read: 0,
                                until: Box::pin(tokio::time::sleep(this.deadline)),
                            },
                            None => DrainState::Done,
                        };
                    }
                    other => return other,
                },
                DrainState::Draining { body, read, until } => match Pin::new(body).poll_frame(cx) {
                    Poll::Ready(Some(Ok(frame))) => {
                        let len = frame.data_ref().map_or(0, |data| data.len());
                        *read = read.saturating_add(u64::try_from(len).unwrap_or(u64::MAX));
                        if *read > DRAIN_LIMIT {
                            this.state = DrainState::Done;
                        }
                    }
                    Poll::Ready(_) => this.state = DrainState::Done,
                    Poll::Pending => {
                        if until.as_mut().poll(cx).is_ready() {
                            this.state = DrainState::Done;
                        } else {
                            return Poll::Pending;
                        }
                    }
                },
                DrainState::Done => return Poll::Ready(None),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self.state {
            DrainState::Done => true,
            DrainState::Draining { .. } => false,
            DrainState::Answering => self.body.is_end_stream() && self.leftover.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self.state {
            DrainState::Answering if self.leftover.is_none() => self.body.size_hint(),
            // No length: see `Drain::call`.
            DrainState::Answering => SizeHint::default(),
            _ => SizeHint::with_exact(0),
        }
    }
}

/// The tonic server with the gRPC limits: request timeout, HTTP/2 keepalive PINGs, and
/// [`TrackLayer`] outermost. Serve it with [`incoming`].
pub(crate) fn grpc_server(
    limits: &ConnectionLimits,
) -> tonic::transport::Server<tower::layer::util::Stack<TrackLayer, tower::layer::util::Identity>> {
    tonic::transport::Server::builder()
        .timeout(limits.request_timeout)
        .http2_keepalive_interval(Some(limits.keepalive_interval))
        .http2_keepalive_timeout(Some(PING_ACK_TIMEOUT))
        .layer(TrackLayer)
}

/// Serves `app` over HTTP/1.1 on `connections` until `stop` resolves, then drains.
pub(crate) async fn serve_http(
    app: axum::Router,
    mut connections: ReceiverStream<io::Result<Conn>>,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let app = app.layer(
        tower::ServiceBuilder::new()
            .layer(axum::error_handling::HandleErrorLayer::new(|_: tower::BoxError| async { timed_out() }))
            .timeout(limits.request_timeout),
    );
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // The connections' tasks: dropping this future (a stop past its deadline) closes them all.
    let mut open = tokio::task::JoinSet::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let conn = tokio::select! {
            () = &mut stop => break,
            Some(_) = open.join_next(), if !open.is_empty() => continue,
            conn = connections.next() => conn,
        };
        let Some(Ok(conn)) = conn else { break };
        let peer = conn.peer().unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let info = conn.connect_info();
        let service = tower::ServiceBuilder::new()
            .map_request(move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(info.clone());
                request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                request
            })
            .layer(TrackLayer)
            .layer(DrainLayer { deadline: limits.request_timeout })
            .service(app.clone());
        let connection =
            http.serve_connection(TokioIo::new(conn), hyper_util::service::TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        open.spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "http connection ended");
            }
        });
    }
    // Stop accepting (the listener closes with the stream), then let open connections finish.
    drop(connections);
    graceful.shutdown().await;
    while open.join_next().await.is_some() {}
}

/// The answer to a request that ran past the request timeout: AWS's `ServiceUnavailable`.
fn timed_out() -> axum::response::Response {
    let mut id = [0u8; 16];
    if let Ok(mut rng) = tessera_credentials::SystemRng::new() {
        tessera_credentials::RandomSource::fill_bytes(&mut rng, &mut id);
    }
    let body = tessera_awsapi::error_response(
        tessera_awsapi::IAM_NAMESPACE,
        "ServiceUnavailable",
        "The request timed out before it was answered.",
        false,
        &tessera_awsapi::format_request_id(u128::from_le_bytes(id)),
    );
    let mut response = axum::response::Response::new(axum::body::Body::from(body));
    *response.status_mut() = axum::http::StatusCode::SERVICE_UNAVAILABLE;
    response.headers_mut().insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("text/xml"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_refuse_zero_and_nonsense() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["0s", "", "s", "1.5s", "10 s", "10d", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_defaults_are_the_flag_defaults() {
        use clap::Parser as _;
        #[derive(clap::Parser)]
        struct Flags {
            #[command(flatten)]
            limits: ConnectionLimits,
        }
        // The flags read the environment; these tests set none of them.
        let parsed = Flags::parse_from(["tessera"]).limits;
        assert_eq!(parsed, ConnectionLimits::default());
        assert_eq!(parsed.header_read_timeout, Duration::from_secs(10));
        assert_eq!(parsed.max_connections, 4096);
    }
}
