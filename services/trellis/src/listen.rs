//! Connection hygiene on every listener: a cap on the connections one
//! listener holds (one more is closed the moment it arrives, never left
//! waiting in the backlog), a deadline for a request's headers, an idle
//! timeout, TCP and HTTP/2 keepalive, a cap on a gRPC connection's
//! concurrent calls, and the open-file limit raised at start.
//!
//! The timeouts live in the connection's IO (`conn::Conn`): every read,
//! and every write that has to wait, first checks the connection's
//! deadline, which follows what the connection is doing (`conn::Clock`):
//!
//! - until its first request's headers are in: accepted + header timeout;
//! - while a request is being answered: none (requests have their own
//!   deadline);
//! - HTTP/1 between requests: last answer out + idle timeout, and from the
//!   next request's first byte, that byte + header timeout (slowloris);
//! - gRPC between calls: last call ended + idle timeout (HTTP/2 pings are
//!   not use; a client reconnects on its next call);
//! - upgraded to a WebSocket: none; the WebSocket layer owns the socket.

mod args;
mod conn;
mod files;
mod grpc;
mod http;
mod listener;
#[cfg(test)]
mod tests;

pub use args::{ConnectionArgs, Limits};
pub use files::raise_file_limit;
pub use grpc::{GrpcRouter, grpc_server};
pub use http::serve_http;
pub use listener::Listener;
