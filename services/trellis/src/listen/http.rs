//! HTTP/1: serving a router on a [`Listener`], connection by connection.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;

use super::conn::Clock;
use super::listener::Listener;

/// Longest a stopping HTTP server waits for answers in progress.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Serves `app` over HTTP/1 on `listener` with upgrades (WebSocket), each
/// request carrying `ConnectInfo<SocketAddr>`, until `shutdown`; then
/// stops accepting and lets answers in progress finish.
pub async fn serve_http(
    listener: Listener,
    app: Router,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let (stop, stopping) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let conn = tokio::select! {
            () = &mut shutdown => break,
            conn = listener.accept() => conn,
        };
        let service = HttpConnection {
            app: app.clone(),
            peer: conn.peer,
            clock: Arc::clone(&conn.clock),
        };
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            let mut connection = pin!(
                hyper::server::conn::http1::Builder::new()
                    // The connection's own clock times the headers.
                    .header_read_timeout(None)
                    .serve_connection(TokioIo::new(conn), service)
                    .with_upgrades()
            );
            tokio::select! {
                result = connection.as_mut() => return log_connection_end(result),
                _ = stopping.changed() => connection.as_mut().graceful_shutdown(),
            }
            log_connection_end(connection.await);
        });
    }
    // Stop accepting at once: new clients are refused by the kernel.
    drop(listener);
    stop.send_replace(());
    drop(stopping);
    if tokio::time::timeout(SHUTDOWN_GRACE, stop.closed())
        .await
        .is_err()
    {
        tracing::warn!("stopped with HTTP answers still in progress");
    }
    Ok(())
}

fn log_connection_end(result: hyper::Result<()>) {
    if let Err(e) = result {
        tracing::debug!(error = %e, "HTTP connection ended");
    }
}

/// One HTTP connection's way into the router.
#[derive(Clone)]
struct HttpConnection {
    app: Router,
    peer: SocketAddr,
    clock: Arc<Clock>,
}

impl hyper::service::Service<Request<Incoming>> for HttpConnection {
    type Response = Response<axum::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        use tower::Service as _;
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let in_flight = self.clock.begin();
        let clock = Arc::clone(&self.clock);
        let mut app = self.app.clone();
        Box::pin(async move {
            std::future::poll_fn(|cx| {
                tower::Service::<Request<Incoming>>::poll_ready(&mut app, cx)
            })
            .await?;
            let response = app.call(request).await?;
            if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                clock.detach();
            }
            drop(in_flight);
            Ok(response)
        })
    }
}
