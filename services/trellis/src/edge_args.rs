//! The gateway's edge settings on the command line and in the environment
//! (`EdgeArgs`), shared by `trellis serve` and `trellis gateway`.

use std::time::Duration;

use trellis_gateway::{EdgeConfig, IntrospectionPolicy, TrustedProxies, WebSocketLimits};

#[derive(clap::Args, Debug, Clone)]
pub struct EdgeArgs {
    /// Who may introspect the GraphQL schema: staff (every role but
    /// client), everyone (any valid token) or nobody. The schema is
    /// published as docs/schema.graphql either way.
    #[arg(long, env = "TRELLIS_INTROSPECTION", default_value = "staff")]
    pub introspection: IntrospectionPolicy,
    /// Proxies (comma-separated IPs or CIDR ranges) whose X-Forwarded-For
    /// or Forwarded header names the client address in the access log.
    /// Empty: nobody's; the TCP peer is recorded.
    #[arg(long, env = "TRELLIS_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: TrustedProxies,
    /// Bytes of persisted-query text kept in memory by the embedded
    /// server, a quarter of it for any one tenant; 0 keeps none. (The
    /// split gateway keeps them in Redis for 24 hours.)
    #[arg(
        long,
        env = "TRELLIS_PERSISTED_QUERY_CACHE_BYTES",
        default_value_t = trellis_gateway::mobile::DEFAULT_QUERY_CACHE_BYTES
    )]
    pub persisted_query_cache_bytes: usize,
    /// Seconds a WebSocket may take to send connection_init before it is
    /// closed.
    #[arg(long, env = "TRELLIS_WS_INIT_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub ws_init_timeout_secs: u64,
    /// Subscriptions one WebSocket connection may hold at once.
    #[arg(long, env = "TRELLIS_WS_MAX_SUBSCRIPTIONS", default_value_t = 20)]
    pub ws_max_subscriptions: usize,
    /// The gateway's public base URL as clients reach it (e.g.
    /// https://trellis.clinic.example), for the FHIR API's fullUrl and
    /// Location. Unset: taken from each request's Host header, over http.
    #[arg(long, env = "TRELLIS_PUBLIC_URL", value_parser = public_url)]
    pub public_url: Option<String>,
}

/// An http(s) origin, optionally with a path prefix; no query or fragment.
fn public_url(raw: &str) -> Result<String, String> {
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .ok_or("must start with https:// or http://")?;
    if rest.is_empty() || rest.contains(['?', '#', ' ', '"', '<', '>', '\\']) {
        return Err("must be a URL without query, fragment or spaces".into());
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

impl EdgeArgs {
    /// The gateway's edge configuration.
    pub fn config(&self) -> EdgeConfig {
        EdgeConfig {
            introspection: self.introspection,
            trusted_proxies: self.trusted_proxies.clone(),
            websocket: WebSocketLimits {
                init_timeout: Duration::from_secs(self.ws_init_timeout_secs),
                max_subscriptions: self.ws_max_subscriptions,
            },
            public_url: self.public_url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        edge: EdgeArgs,
    }

    #[test]
    fn the_defaults_are_the_safe_ones() {
        let cli = Cli::try_parse_from(["trellis"]).unwrap();
        let config = cli.edge.config();
        assert_eq!(config.introspection, IntrospectionPolicy::Staff);
        assert!(config.trusted_proxies.is_empty());
        assert_eq!(config.websocket, WebSocketLimits::default());
        assert_eq!(cli.edge.persisted_query_cache_bytes, 8 * 1024 * 1024);
    }

    #[test]
    fn values_are_checked_when_parsed() {
        let cli = Cli::try_parse_from([
            "trellis",
            "--introspection",
            "nobody",
            "--trusted-proxies",
            "10.0.0.0/8,192.0.2.1",
            "--ws-max-subscriptions",
            "5",
        ])
        .unwrap();
        assert_eq!(cli.edge.introspection, IntrospectionPolicy::Nobody);
        assert!(!cli.edge.trusted_proxies.is_empty());
        assert_eq!(cli.edge.config().websocket.max_subscriptions, 5);
        let cli =
            Cli::try_parse_from(["trellis", "--public-url", "https://trellis.clinic.example/"])
                .unwrap();
        assert_eq!(
            cli.edge.config().public_url.as_deref(),
            Some("https://trellis.clinic.example")
        );
        for bad in [
            ["--introspection", "all"],
            ["--trusted-proxies", "proxy.internal"],
            ["--ws-init-timeout-secs", "0"],
            ["--public-url", "trellis.clinic.example"],
            ["--public-url", "https://x.example/?next=evil"],
        ] {
            assert!(
                Cli::try_parse_from(["trellis", bad[0], bad[1]]).is_err(),
                "{bad:?}"
            );
        }
    }
}
