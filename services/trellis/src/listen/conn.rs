//! A connection's IO, which keeps the deadline its [`Clock`] sets.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};

use super::args::Limits;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protocol {
    Http1,
    Grpc,
}

/// What a connection is doing, which decides its deadline.
pub struct Clock {
    protocol: Protocol,
    header_read: Duration,
    idle: Duration,
    state: Mutex<ClockState>,
}

pub(super) struct ClockState {
    pub(super) accepted: Instant,
    /// Whether any request's headers have come in.
    requested: bool,
    /// Requests (gRPC calls) being answered.
    in_flight: usize,
    /// When the last request in flight was answered.
    idle_since: Instant,
    /// HTTP/1: when the next request's first byte came in.
    head_started: Option<Instant>,
    /// HTTP/1: when an answer's bytes last went out.
    wrote: Instant,
    /// Upgraded (WebSocket): no longer HTTP's to time.
    detached: bool,
    /// The connection's task, woken when its last request in flight ends.
    waker: Option<Waker>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock")
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl Clock {
    pub(super) fn new(protocol: Protocol, limits: &Limits) -> Self {
        let now = Instant::now();
        Self {
            protocol,
            header_read: limits.header_read,
            idle: limits.idle,
            state: Mutex::new(ClockState {
                accepted: now,
                requested: false,
                in_flight: 0,
                idle_since: now,
                head_started: None,
                wrote: now,
                detached: false,
                waker: None,
            }),
        }
    }

    pub(super) fn state(&self) -> MutexGuard<'_, ClockState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// When the connection is to be closed, if nothing changes; `None`
    /// while it is busy or no longer HTTP's. Remembers `waker` to wake
    /// when the last request in flight ends.
    pub(super) fn deadline(&self, waker: &Waker) -> Option<Instant> {
        let mut state = self.state();
        if state.detached {
            return None;
        }
        if state.in_flight > 0 {
            if !state.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
                state.waker = Some(waker.clone());
            }
            return None;
        }
        if !state.requested {
            return Some(state.accepted + self.header_read);
        }
        Some(match (self.protocol, state.head_started) {
            (Protocol::Http1, Some(first_byte)) => first_byte + self.header_read,
            (Protocol::Http1, None) => state.idle_since.max(state.wrote) + self.idle,
            (Protocol::Grpc, _) => state.idle_since + self.idle,
        })
    }

    pub(super) fn read_some(&self) {
        if self.protocol == Protocol::Http1 {
            let mut state = self.state();
            if state.requested && state.in_flight == 0 && state.head_started.is_none() {
                state.head_started = Some(Instant::now());
            }
        }
    }

    pub(super) fn wrote_some(&self) {
        if self.protocol == Protocol::Http1 {
            self.state().wrote = Instant::now();
        }
    }

    /// A request's headers are in; it is in flight until the guard drops.
    pub(super) fn begin(self: &Arc<Self>) -> InFlight {
        let mut state = self.state();
        state.requested = true;
        state.in_flight += 1;
        state.head_started = None;
        InFlight(Arc::clone(self))
    }

    pub(super) fn detach(&self) {
        self.state().detached = true;
    }
}

/// A request being answered; dropped when it is.
pub struct InFlight(Arc<Clock>);

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InFlight")
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.0.state();
            state.in_flight -= 1;
            if state.in_flight > 0 {
                return;
            }
            state.idle_since = Instant::now();
            state.waker.take()
        };
        // The connection's task arms the idle deadline on its next poll.
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// An accepted connection: its slot under the listener's cap, and the
/// deadline its reads and writes keep.
pub struct Conn {
    stream: TcpStream,
    pub(super) peer: SocketAddr,
    pub(super) local: Option<SocketAddr>,
    pub(super) clock: Arc<Clock>,
    timer: Pin<Box<Sleep>>,
    armed: Option<Instant>,
    _slot: OwnedSemaphorePermit,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl Conn {
    pub(super) fn new(
        stream: TcpStream,
        peer: SocketAddr,
        slot: OwnedSemaphorePermit,
        protocol: Protocol,
        limits: &Limits,
    ) -> Self {
        let clock = Arc::new(Clock::new(protocol, limits));
        Self {
            local: stream.local_addr().ok(),
            stream,
            peer,
            clock,
            // Set to the clock's deadline on the first read.
            timer: Box::pin(tokio::time::sleep(limits.header_read)),
            armed: None,
            _slot: slot,
        }
    }

    /// `Ready` with the error to fail the connection with once its deadline
    /// has passed; otherwise the timer is set to wake the task then.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let Some(deadline) = self.clock.deadline(cx.waker()) else {
            return Poll::Pending;
        };
        if self.armed != Some(deadline) {
            self.timer.as_mut().reset(deadline);
            self.armed = Some(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection timed out: no complete request, or idle",
            )),
            Poll::Pending => Poll::Pending,
        }
    }

    fn wrote(&self, result: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = &result
            && *n > 0
        {
            self.clock.wrote_some();
        }
        result
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Poll::Ready(e) = this.poll_deadline(cx) {
            return Poll::Ready(Err(e));
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.clock.read_some();
        }
        result
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.stream).poll_write(cx, buf) {
            Poll::Pending => this.poll_deadline(cx).map(Err),
            done => this.wrote(done),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.stream).poll_write_vectored(cx, bufs) {
            Poll::Pending => this.poll_deadline(cx).map(Err),
            done => this.wrote(done),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
