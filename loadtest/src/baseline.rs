//! The `--with-baseline` servers: an empty axum handler (HTTP scenarios) and an empty tonic
//! unary service (`authorize`), on loopback, so a run shows what the client, the loopback and
//! the framework cost without Tessera.
//!
//! The tonic one answers *every* unary method with an empty message (which decodes as any
//! message's default), through tonic's own `Grpc::unary`, so it keeps the shape of whatever
//! method `grpc::authorize` calls.

use std::future::{Ready, ready};
use std::net::SocketAddr;

use anyhow::{Context, Result};
use axum::Router;
use axum::serve::ListenerExt;
use hyper::body::Buf;
use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::{Grpc, UnaryService};

/// Starts an axum server on loopback, on `runtime`, whose one route (`POST /`) answers 200 with
/// an empty body.
pub(crate) async fn start_http(runtime: &Handle) -> Result<SocketAddr> {
    runtime
        .spawn(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.context("cannot bind the baseline HTTP server")?;
            let addr = listener.local_addr()?;
            let app = Router::new().route("/", axum::routing::post(|| async {}));
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            tokio::spawn(async move { axum::serve(listener, app).await });
            Ok(addr)
        })
        .await?
}

/// Starts a tonic server on loopback, on `runtime`, that answers every unary call at once with
/// an empty message.
pub(crate) async fn start_grpc(runtime: &Handle) -> Result<SocketAddr> {
    runtime
        .spawn(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.context("cannot bind the baseline gRPC server")?;
            let addr = listener.local_addr()?;
            let app = Router::new().fallback(|request: axum::extract::Request| async move {
                Grpc::new(Empty).unary(Answer, request).await
            });
            let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
            tokio::spawn(
                tonic::transport::Server::builder()
                    .add_routes(tonic::service::Routes::from(app))
                    .serve_with_incoming(incoming),
            );
            Ok(addr)
        })
        .await?
}

/// A codec that reads any message as `()` and writes `()` as the empty message.
#[derive(Debug, Clone, Copy)]
struct Empty;

impl Codec for Empty {
    type Encode = ();
    type Decode = ();
    type Encoder = Empty;
    type Decoder = Empty;

    fn encoder(&mut self) -> Empty {
        Empty
    }

    fn decoder(&mut self) -> Empty {
        Empty
    }
}

impl Encoder for Empty {
    type Item = ();
    type Error = Status;

    fn encode(&mut self, (): (), _: &mut EncodeBuf<'_>) -> Result<(), Status> {
        Ok(())
    }
}

impl Decoder for Empty {
    type Item = ();
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, Status> {
        src.advance(src.remaining());
        Ok(Some(()))
    }
}

/// The handler: answers at once.
#[derive(Debug, Clone, Copy)]
struct Answer;

impl UnaryService<()> for Answer {
    type Response = ();
    type Future = Ready<Result<tonic::Response<()>, Status>>;

    fn call(&mut self, _: tonic::Request<()>) -> Self::Future {
        ready(Ok(tonic::Response::new(())))
    }
}
