//! The edge settings an operator chooses for the gateway: who may
//! introspect, whose forwarding headers are believed, and what one
//! WebSocket connection may do. The defaults are the safe ones.

use crate::forwarded::TrustedProxies;
use crate::introspection::IntrospectionPolicy;
use crate::ws::WebSocketLimits;

#[derive(Debug, Clone, Default)]
pub struct EdgeConfig {
    /// Who may introspect (default: staff roles).
    pub introspection: IntrospectionPolicy,
    /// Proxies whose `X-Forwarded-For` / `Forwarded` name the client
    /// address in the access log (default: none).
    pub trusted_proxies: TrustedProxies,
    /// `connection_init` deadline and subscriptions per connection.
    pub websocket: WebSocketLimits,
    /// The gateway's public base URL as clients reach it (e.g.
    /// `https://trellis.clinic.example`): FHIR bundles' `fullUrl`s and
    /// `Location` headers use it. `None`: the request's `Host`, over http.
    pub public_url: Option<String>,
}
