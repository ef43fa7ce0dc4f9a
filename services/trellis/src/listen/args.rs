//! The connection limits an operator sets, and the same as durations.

use std::time::Duration;

/// How many connections each listener holds and how long they may dawdle.
#[derive(clap::Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// Connections each listener holds at once; one more is closed as soon
    /// as it arrives (an HTTP client reads a 503 first).
    #[arg(long, env = "TRELLIS_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Seconds a connection has to send a request's complete headers (on
    /// gRPC: its first call) before it is closed.
    #[arg(long, env = "TRELLIS_HEADER_READ_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub header_read_timeout_secs: u64,
    /// Seconds a connection may go without a request (on gRPC: a call)
    /// before it is closed. WebSocket subscriptions are not cut.
    #[arg(long, env = "TRELLIS_IDLE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_timeout_secs: u64,
    /// Seconds between the server's HTTP/2 pings on a gRPC connection.
    #[arg(long, env = "TRELLIS_GRPC_KEEPALIVE_INTERVAL_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub grpc_keepalive_interval_secs: u64,
    /// Seconds a ping's answer may take before the connection is dropped.
    #[arg(long, env = "TRELLIS_GRPC_KEEPALIVE_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub grpc_keepalive_timeout_secs: u64,
    /// Calls (HTTP/2 streams) one gRPC connection may have open at once.
    #[arg(long, env = "TRELLIS_GRPC_MAX_STREAMS", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub grpc_max_streams: u32,
}

impl ConnectionArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            max_connections: self.max_connections as usize,
            header_read: Duration::from_secs(self.header_read_timeout_secs),
            idle: Duration::from_secs(self.idle_timeout_secs),
            grpc_keepalive_interval: Duration::from_secs(self.grpc_keepalive_interval_secs),
            grpc_keepalive_timeout: Duration::from_secs(self.grpc_keepalive_timeout_secs),
            grpc_max_streams: self.grpc_max_streams,
        }
    }
}

/// [`ConnectionArgs`] as durations.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read: Duration,
    pub idle: Duration,
    pub grpc_keepalive_interval: Duration,
    pub grpc_keepalive_timeout: Duration,
    pub grpc_max_streams: u32,
}
