//! gRPC: the tonic server with the limits, and each call tracked on its
//! connection's clock.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use trellis_grpc_edge::hop::HopLayer;

use axum::http::{Request, Response};
use hyper::body::{Body, Frame, SizeHint};
use tonic::transport::server::{Connected, TcpConnectInfo};
use tower::layer::util::{Identity, Stack};

use super::args::Limits;
use super::conn::{Clock, Conn, InFlight};

/// What tonic puts in each call's extensions; [`TrackCalls`] turns it into
/// the usual [`TcpConnectInfo`] (so `Request::remote_addr` works).
#[derive(Debug, Clone)]
pub struct Peer {
    pub(super) tcp: TcpConnectInfo,
    pub(super) clock: Arc<Clock>,
}

impl Connected for Conn {
    type ConnectInfo = Peer;

    fn connect_info(&self) -> Peer {
        Peer {
            tcp: TcpConnectInfo {
                local_addr: self.local,
                remote_addr: Some(self.peer),
            },
            clock: Arc::clone(&self.clock),
        }
    }
}

/// A tonic server with the limits: HTTP/2 keepalive pings, concurrent
/// streams per connection, and calls tracked for the idle timeout; and
/// each call marked as an internal hop or not (`trellis_grpc_edge::hop`).
pub type GrpcServer = tonic::transport::Server<Stack<HopLayer, Stack<TrackCalls, Identity>>>;
pub type GrpcRouter =
    tonic::transport::server::Router<Stack<HopLayer, Stack<TrackCalls, Identity>>>;

pub fn grpc_server(limits: &Limits) -> GrpcServer {
    tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(limits.grpc_keepalive_interval))
        .http2_keepalive_timeout(Some(limits.grpc_keepalive_timeout))
        .max_concurrent_streams(limits.grpc_max_streams)
        .layer(TrackCalls)
        .layer(HopLayer)
}

/// Marks each gRPC call in flight on its connection's [`Clock`] until its
/// answer's last frame is sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrackCalls;

impl<S> tower::Layer<S> for TrackCalls {
    type Service = Tracked<S>;

    fn layer(&self, inner: S) -> Tracked<S> {
        Tracked(inner)
    }
}

#[derive(Debug, Clone)]
pub struct Tracked<S>(S);

impl<S, B, R> tower::Service<Request<B>> for Tracked<S>
where
    S: tower::Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: Send + 'static,
{
    type Response = Response<CallBody<R>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let peer = request.extensions().get::<Peer>().cloned();
        let in_flight = peer.map(|peer| {
            request.extensions_mut().insert(peer.tcp);
            peer.clock.begin()
        });
        let answer = self.0.call(request);
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| CallBody {
                body,
                _in_flight: in_flight,
            }))
        })
    }
}

/// A gRPC answer's body; the call is in flight until it is dropped.
#[derive(Debug)]
pub struct CallBody<B> {
    pub(super) body: B,
    _in_flight: Option<InFlight>,
}

impl<B: Body + Unpin> Body for CallBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
