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
//! values async-graphql quotes in its messages ([`redact`]). A document
//! async-graphql then validates in full is marked so (`parsed.rs`), and
//! later requests for it may take the path that skips what it passed
//! (`known.rs`).

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextRequest,
    NextSubscribe, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Variables};
use futures::StreamExt as _;
use futures::stream::BoxStream;

use crate::cost::{CostLimits, QueryCost};
use crate::introspection::IntrospectionGuard;
use crate::redact;
use crate::ws::SocketRequests;

/// The edge's rules, in the order the module says.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestRules {
    cost: QueryCost,
}

impl RequestRules {
    /// The limits documents are judged against.
    pub(crate) fn limits(&self) -> &CostLimits {
        &self.cost.0
    }
}

impl ExtensionFactory for RequestRules {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RulesOfOneRequest {
            cost: self.cost,
            parsed_text: Mutex::default(),
        })
    }
}

/// The rules as one request passes them.
#[derive(Debug)]
struct RulesOfOneRequest {
    cost: QueryCost,
    /// The query text, from the moment its document passed the cost and
    /// introspection rules until validation passes it too.
    parsed_text: Mutex<Option<String>>,
}

impl RulesOfOneRequest {
    fn parsed_text(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        // Only this request's steps, one after another, take the lock.
        self.parsed_text.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait::async_trait]
impl Extension for RulesOfOneRequest {
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
        let document = IntrospectionGuard::judge(ctx, document)?;
        *self.parsed_text() = Some(query.to_owned());
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let passed = next.run(ctx).await?;
        if let Some(query) = self.parsed_text().take() {
            self.cost.validated(&query);
        }
        Ok(passed)
    }
}
