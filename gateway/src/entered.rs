//! Who entered an item on the plan, and when.

use async_graphql::Object;
use trellis_projector::EnteredView;

/// Who entered an item on the plan, and when.
#[derive(Debug)]
pub struct Entered<'a>(pub(crate) &'a EnteredView);

#[Object]
impl Entered<'_> {
    /// The subject of the token that entered it.
    async fn by(&self) -> &str {
        &self.0.by
    }
    /// The role they acted in (clinician, supervisor, …).
    async fn role(&self) -> &str {
        &self.0.role
    }
    /// When the server recorded it (RFC 3339).
    async fn at(&self) -> String {
        self.0.at.to_rfc3339()
    }
}
