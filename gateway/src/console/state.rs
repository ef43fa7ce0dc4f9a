//! What the console's handlers share: the schema they run operations on,
//! how sessions are verified, and the console's own settings.

use std::sync::Arc;

use trellis_auth::{Role, TokenIssuer, TokenVerifier};
use trellis_kernel::TenantId;
use trellis_projector::ReadModelStore;

use super::oidc::OidcClient;
use crate::TrellisSchema;
use crate::edge::EdgeConfig;
use crate::mobile::RateLimiter;

/// Someone the development sign-in page offers.
#[derive(Debug, Clone)]
pub struct DevPerson {
    pub subject: String,
    pub role: Role,
    pub clinics: Vec<String>,
    /// How the page names them, e.g. "Dr. Rivera, clinician".
    pub label: String,
}

/// Development mode only: sign in as one of a tenant's people, with a
/// token the gateway mints itself.
#[derive(Clone)]
pub struct DevSignIn {
    pub issuer: TokenIssuer,
    pub tenant: TenantId,
    pub people: Vec<DevPerson>,
}

impl std::fmt::Debug for DevSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevSignIn")
            .field("tenant", &self.tenant)
            .field("people", &self.people)
            .finish_non_exhaustive()
    }
}

/// What the console needs besides the schema.
#[derive(Clone, Default)]
pub struct ConsoleConfig {
    /// The "sign in as" page (`--dev` only).
    pub dev_sign_in: Option<DevSignIn>,
    /// Sign-in with the identity provider (OpenID Connect, PKCE).
    pub oidc: Option<Arc<OidcClient>>,
    /// Where the console waits for its own writes to reach the read
    /// models before showing the page again (bounded); without it a page
    /// after a form may show the plan just before the change.
    pub read_models: Option<Arc<dyn ReadModelStore>>,
}

impl std::fmt::Debug for ConsoleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleConfig")
            .field("dev_sign_in", &self.dev_sign_in)
            .field("oidc", &self.oidc.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub(crate) struct Console {
    pub(crate) schema: TrellisSchema,
    pub(crate) verifier: Arc<TokenVerifier>,
    pub(crate) edge: EdgeConfig,
    pub(crate) limiter: Arc<dyn RateLimiter>,
    pub(crate) config: ConsoleConfig,
}
