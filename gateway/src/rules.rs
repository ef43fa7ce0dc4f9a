//! The rules every GraphQL request passes at the edge, as one schema
//! extension.
//!
//! Once a schema has any extension, async-graphql sends every field (and
//! every list item) of every answer through each extension's `resolve`
//! hook: an await, an allocation and a registry lookup per extension per
//! field, whether the extension looks at fields or not. None of these
//! rules does; as one extension instead of four, a field pays the toll
//! once, and W3 answered 14 % more queries (docs/benchmarks.md).
//!
//! In order: an operation sent over a socket is counted against the
//! caller's budget ([`SocketRequests`]); the document's cost is judged
//! on its expanded form before async-graphql parses and validates it
//! ([`QueryCost`]); introspection is judged on every document, also one
//! the cost check answers from those it kept, because it judges the
//! caller ([`IntrospectionGuard`]); and every answer leaves without the
//! values async-graphql quotes in its messages ([`redact`]).

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextRequest,
    NextSubscribe,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, Response, ServerResult, Variables};
use futures::StreamExt as _;
use futures::stream::BoxStream;

use crate::cost::QueryCost;
use crate::introspection::IntrospectionGuard;
use crate::redact;
use crate::ws::SocketRequests;

/// The edge's rules, in the order the module says.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestRules {
    cost: QueryCost,
}

impl ExtensionFactory for RequestRules {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

#[async_trait::async_trait]
impl Extension for RequestRules {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        redact::without_values(next.run(ctx).await)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream).map(redact::without_values).boxed()
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        SocketRequests::charge(ctx).await?;
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = self.cost.parse(ctx, query, variables, next).await?;
        IntrospectionGuard::judge(ctx, document)
    }
}
