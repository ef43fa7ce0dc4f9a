//! How a plan document leaves the audit service: in the shape the API
//! shows plans in, not the projector's internal form.
//!
//! The shape belongs to the GraphQL gateway, which depends on this crate,
//! so this crate only names the seam: whoever assembles the process gives
//! [`grpc::AuditGrpc`](crate::grpc::AuditGrpc) a [`PlanRenderer`].

use async_trait::async_trait;
use trellis_projector::PlanView;

/// Turns a plan as it stood into the JSON callers see.
#[async_trait]
pub trait PlanRenderer: Send + Sync + std::fmt::Debug {
    /// The plan as JSON.
    async fn render(&self, view: &PlanView) -> Result<serde_json::Value, RenderError>;
}

/// A plan could not be rendered. The message states what went wrong, never
/// a value of the plan.
#[derive(Debug, thiserror::Error)]
#[error("the plan could not be rendered: {0}")]
pub struct RenderError(pub String);
