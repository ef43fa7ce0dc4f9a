//! Subscriptions over WebSocket (`/graphql/ws`, graphql-ws or
//! graphql-transport-ws), with two limits a socket cannot talk its way
//! past: `connection_init` must arrive within [`WebSocketLimits::init_timeout`]
//! or the socket is closed (4408, as graphql-ws says), and one connection
//! holds at most [`WebSocketLimits::max_subscriptions`] subscriptions at
//! once — one more is answered `TOO_MANY_SUBSCRIPTIONS` while the others
//! run on. A message is at most as large as an HTTP body may be,
//! and every operation a socket runs (a query or mutation sent over it as
//! much as a subscription) counts against the caller's request budget, as
//! it would over HTTP ([`SocketRequests`]).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use async_graphql::extensions::ExtensionContext;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Context, ErrorExtensionValues, ServerError, ServerResult};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::WebSocketUpgrade;
use axum::extract::ws::{CloseFrame, Message};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, Stream, StreamExt};
use trellis_auth::{Caller, TokenVerifier};
use trellis_grpc_edge::metrics::record_request;

use crate::RequestMeta;
use crate::error::{ErrorCode, error};
use crate::introspection::IntrospectionPolicy;
use crate::mobile::{OVER_BUDGET, RateLimiter};

/// What one WebSocket connection may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebSocketLimits {
    /// How long after the upgrade `connection_init` may take.
    pub init_timeout: Duration,
    /// Subscriptions one connection may hold at once.
    pub max_subscriptions: usize,
}

impl Default for WebSocketLimits {
    fn default() -> Self {
        Self {
            init_timeout: Duration::from_secs(10),
            max_subscriptions: 20,
        }
    }
}

/// graphql-ws's close code for a socket that never said `connection_init`.
const INIT_TIMEOUT_CLOSE: u16 = 4408;

/// The subscriptions a connection holds, shared by them all.
#[derive(Debug, Clone)]
pub(crate) struct SubscriptionSlots {
    held: Arc<AtomicUsize>,
    max: usize,
}

impl SubscriptionSlots {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            held: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    fn claim(&self) -> Option<SubscriptionSlot> {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held < self.max).then_some(held + 1)
            })
            .ok()
            .map(|_| SubscriptionSlot(Arc::clone(&self.held)))
    }
}

/// One subscription's place on its connection; given back when dropped
/// (the client stopped it, it ended, or the socket closed).
#[derive(Debug)]
pub(crate) struct SubscriptionSlot(Arc<AtomicUsize>);

impl Drop for SubscriptionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A place for a new subscription on the caller's connection, or the
/// error to answer. Outside a WebSocket connection there is no cap.
pub(crate) fn claim_slot(ctx: &Context<'_>) -> async_graphql::Result<Option<SubscriptionSlot>> {
    let Some(slots) = ctx.data_opt::<SubscriptionSlots>() else {
        return Ok(None);
    };
    slots.claim().map(Some).ok_or_else(|| {
        error(
            ErrorCode::TooManySubscriptions,
            &format!(
                "a connection may hold at most {} subscriptions at once; stop one before starting another",
                slots.max
            ),
        )
    })
}

/// A subscription's stream, holding its slot for as long as it lives.
pub(crate) struct Held<T> {
    stream: Pin<Box<dyn Stream<Item = T> + Send>>,
    _slot: Option<SubscriptionSlot>,
}

impl<T> Held<T> {
    pub(crate) fn new(
        stream: impl Stream<Item = T> + Send + 'static,
        slot: Option<SubscriptionSlot>,
    ) -> Self {
        Self {
            stream: Box::pin(stream),
            _slot: slot,
        }
    }
}

impl<T> Stream for Held<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<T>> {
        self.stream.as_mut().poll_next(cx)
    }
}

/// What the socket's requests carry besides the caller.
#[derive(Clone)]
pub(crate) struct SocketSetup {
    pub(crate) address: String,
    pub(crate) introspection: IntrospectionPolicy,
    pub(crate) limits: WebSocketLimits,
    pub(crate) budget: Arc<dyn RateLimiter>,
    /// The largest message (and frame) read: an HTTP body's limit.
    pub(crate) max_message_bytes: usize,
}

/// The request budget a socket's operations are counted against, in the
/// connection's data (only sockets carry it: HTTP counts its requests at
/// the edge, before the schema sees them).
#[derive(Clone)]
struct SocketBudget(Arc<dyn RateLimiter>);

/// The rule that counts each operation run over a socket against the
/// caller's budget, and refuses it (`RATE_LIMITED`) when spent. Applied by
/// [`crate::rules::RequestRules`] before each operation is prepared.
#[derive(Debug, Clone, Copy, Default)]
pub struct SocketRequests;

impl SocketRequests {
    pub(crate) async fn charge(ctx: &ExtensionContext<'_>) -> ServerResult<()> {
        if let (Some(budget), Some(caller)) =
            (ctx.data_opt::<SocketBudget>(), ctx.data_opt::<Caller>())
        {
            let tenant = caller.tenant.as_str();
            if !budget.0.allow(tenant, &caller.subject).await {
                record_request(
                    tenant,
                    "graphql",
                    "rate-limited",
                    Some(ErrorCode::RateLimited.as_str()),
                );
                let mut error = ServerError::new(OVER_BUDGET, None);
                let mut extensions = ErrorExtensionValues::default();
                extensions.set("code", ErrorCode::RateLimited.as_str());
                error.extensions = Some(extensions);
                return Err(error);
            }
        }
        Ok(())
    }
}

/// Upgrades to a GraphQL WebSocket. The bearer token comes in the
/// `connection_init` payload as `{"authorization": "Bearer …"}` (browsers
/// cannot set headers on a WebSocket).
pub(crate) fn upgrade(
    upgrade: WebSocketUpgrade,
    protocol: GraphQLProtocol,
    schema: impl async_graphql::Executor,
    verifier: Arc<TokenVerifier>,
    setup: SocketSetup,
) -> Response {
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        // As an HTTP body: read (and held) before the token is checked.
        .max_message_size(setup.max_message_bytes)
        .max_frame_size(setup.max_message_bytes)
        .on_upgrade(move |socket| async move {
            let (mut sink, stream) = socket.split();
            let (initialised, init_seen) = tokio::sync::oneshot::channel::<()>();
            let limits = setup.limits;
            let serve = GraphQLWebSocket::new_with_pair(&mut sink, stream, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let _ = initialised.send(());
                    connection_data(&payload, &verifier, setup)
                })
                .serve();
            let deadline = async {
                // Dropped unsent only when the socket's handling ended.
                if tokio::time::timeout(limits.init_timeout, init_seen)
                    .await
                    .is_ok()
                {
                    std::future::pending::<()>().await;
                }
            };
            let timed_out = tokio::select! {
                () = serve => false,
                () = deadline => true,
            };
            if timed_out {
                let close = CloseFrame {
                    code: INIT_TIMEOUT_CLOSE,
                    reason: "Connection initialisation timeout".into(),
                };
                let _ = sink.send(Message::Close(Some(close))).await;
            }
        })
        .into_response()
}

/// The connection's data once `connection_init` names a valid token.
fn connection_data(
    payload: &serde_json::Value,
    verifier: &TokenVerifier,
    setup: SocketSetup,
) -> async_graphql::Result<async_graphql::Data> {
    let header = ["authorization", "Authorization"]
        .iter()
        .find_map(|k| payload.get(*k).and_then(|v| v.as_str()));
    let caller = verifier.verify_header(header).map_err(|e| {
        record_request(
            "",
            "graphql",
            "authenticate",
            Some(ErrorCode::Unauthenticated.as_str()),
        );
        async_graphql::Error::new(e.to_string())
    })?;
    record_request(caller.tenant.as_str(), "graphql", "subscription", None);
    let mut data = async_graphql::Data::default();
    data.insert(caller);
    data.insert(RequestMeta {
        address: setup.address,
        request_id: uuid::Uuid::new_v4().to_string(),
    });
    data.insert(setup.introspection);
    data.insert(SubscriptionSlots::new(setup.limits.max_subscriptions));
    data.insert(SocketBudget(setup.budget));
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_and_given_back() {
        let slots = SubscriptionSlots::new(2);
        let one = slots.claim().unwrap();
        let two = slots.claim().unwrap();
        assert!(slots.claim().is_none(), "the third is over the cap");
        drop(one);
        let three = slots.claim().unwrap();
        drop((two, three));
        assert_eq!(slots.held.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn a_held_stream_gives_its_slot_back_when_dropped() {
        let slots = SubscriptionSlots::new(1);
        let held = Held::new(futures::stream::iter([1, 2]), slots.claim());
        assert!(slots.claim().is_none());
        assert_eq!(held.collect::<Vec<_>>().await, vec![1, 2]);
        assert!(slots.claim().is_some());
    }
}
