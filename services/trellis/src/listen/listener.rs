//! Accepting connections within the listener's cap.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::args::Limits;
use super::conn::{Conn, Protocol};

/// Pending connections the kernel queues before the accept loop takes them
/// (capped by `net.core.somaxconn`).
const BACKLOG: u32 = 4096;
/// Idle seconds before the kernel probes a silent peer, and between probes.
const TCP_KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const TCP_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const TCP_KEEPALIVE_PROBES: u32 = 6;
/// How long to wait after accept failed for want of resources (files,
/// memory) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// At most one warning of a kind per listener in this period.
const WARN_EVERY: Duration = Duration::from_secs(10);
/// What an HTTP client over the cap reads before the connection closes.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n\
content-length: 0\r\nretry-after: 1\r\n\r\n";

/// A listening socket that hands out [`Conn`]s within its cap.
pub struct Listener {
    inner: TcpListener,
    what: &'static str,
    protocol: Protocol,
    limits: Limits,
    pub(super) slots: Arc<Semaphore>,
    refused: Throttle,
    failed: Throttle,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("what", &self.what)
            .field("addr", &self.inner.local_addr().ok())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Listener {
    /// Listens for HTTP/1 (GraphQL, health); `what` names it in errors and
    /// warnings.
    pub async fn http(
        addr: SocketAddr,
        what: &'static str,
        limits: Limits,
    ) -> anyhow::Result<Self> {
        Self::bind(addr, what, Protocol::Http1, limits).await
    }

    /// Listens for gRPC (HTTP/2).
    pub async fn grpc(addr: SocketAddr, limits: Limits) -> anyhow::Result<Self> {
        Self::bind(addr, "gRPC", Protocol::Grpc, limits).await
    }

    async fn bind(
        addr: SocketAddr,
        what: &'static str,
        protocol: Protocol,
        limits: Limits,
    ) -> anyhow::Result<Self> {
        let listen = || -> io::Result<TcpListener> {
            let socket = if addr.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            socket.set_reuseaddr(true)?;
            socket.bind(addr)?;
            socket.listen(BACKLOG)
        };
        let inner = listen().with_context(|| format!("cannot listen for {what} on {addr}"))?;
        Ok(Self {
            inner,
            what,
            protocol,
            limits,
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            refused: Throttle::default(),
            failed: Throttle::default(),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The next connection within the cap. Connections over it are closed
    /// as they arrive; accept errors are waited out.
    pub async fn accept(&self) -> Conn {
        loop {
            let (stream, peer) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                // The peer gave up between its SYN and our accept.
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    if let Some(times) = self.failed.tick() {
                        tracing::warn!(listener = self.what, error = %e, times, "cannot accept connections");
                    }
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            };
            let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
                self.refuse(&stream);
                continue;
            };
            tune(&stream);
            return Conn::new(stream, peer, slot, self.protocol, &self.limits);
        }
    }

    /// Closes a connection over the cap at once: an HTTP client reads a 503
    /// (when the socket takes it without waiting), a gRPC client sees the
    /// connection close and answers UNAVAILABLE.
    fn refuse(&self, stream: &TcpStream) {
        if self.protocol == Protocol::Http1 {
            let _ = stream.try_write(BUSY);
        }
        if let Some(refused) = self.refused.tick() {
            tracing::warn!(
                listener = self.what,
                max_connections = self.limits.max_connections,
                refused,
                "connections refused: the listener is at its connection cap"
            );
        }
    }

    /// The connections as a stream, for tonic's `serve_with_incoming*`.
    pub fn incoming(self) -> impl futures::Stream<Item = io::Result<Conn>> + Send + 'static {
        futures::stream::unfold(self, |listener| async move {
            let conn = listener.accept().await;
            Some((Ok(conn), listener))
        })
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// No delay for small writes; TCP keepalive so a vanished peer's
/// connection is found and freed.
fn tune(stream: &TcpStream) {
    use rustix::net::sockopt;
    let tuned = stream.set_nodelay(true).and_then(|()| {
        sockopt::set_socket_keepalive(stream, true)?;
        sockopt::set_tcp_keepidle(stream, TCP_KEEPALIVE_IDLE)?;
        sockopt::set_tcp_keepintvl(stream, TCP_KEEPALIVE_INTERVAL)?;
        sockopt::set_tcp_keepcnt(stream, TCP_KEEPALIVE_PROBES)?;
        Ok(())
    });
    if let Err(e) = tuned {
        tracing::debug!(error = %e, "cannot set TCP options on a connection");
    }
}

/// Lets one warning through per [`WARN_EVERY`], counting those held back.
#[derive(Debug, Default)]
struct Throttle {
    last: Mutex<Option<Instant>>,
    since: AtomicU64,
}

impl Throttle {
    /// `Some(occurrences since the last warning)` when one may be logged.
    fn tick(&self) -> Option<u64> {
        self.since.fetch_add(1, Ordering::Relaxed);
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < WARN_EVERY) {
            return None;
        }
        *last = Some(now);
        Some(self.since.swap(0, Ordering::Relaxed))
    }
}
