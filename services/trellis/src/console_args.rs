//! The console's settings on the command line and in the environment
//! (`ConsoleArgs`), shared by `trellis serve` and `trellis gateway`.

use std::sync::Arc;

use anyhow::Context;
use trellis_gateway::console::{OidcClient, OidcSettings};

/// Console sign-in with the clinic network's identity provider (OpenID
/// Connect, authorization code flow with PKCE). Its access tokens must
/// verify as API tokens do (TRELLIS_JWKS_FILE / TRELLIS_JWT_ISSUER).
#[derive(clap::Args, Debug, Clone)]
pub struct ConsoleArgs {
    /// The identity provider's issuer URL (its discovery document is at
    /// <issuer>/.well-known/openid-configuration). Unset: no console
    /// sign-in outside development mode.
    #[arg(long, env = "TRELLIS_CONSOLE_OIDC_ISSUER")]
    pub console_oidc_issuer: Option<String>,
    /// The console's client id at the identity provider.
    #[arg(
        long,
        env = "TRELLIS_CONSOLE_OIDC_CLIENT_ID",
        default_value = "trellis-console"
    )]
    pub console_oidc_client_id: String,
    /// The client secret, for a confidential client (PKCE is used either way).
    #[arg(
        long,
        env = "TRELLIS_CONSOLE_OIDC_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub console_oidc_client_secret: Option<String>,
    /// Scopes asked for besides `openid`, space-separated.
    #[arg(long, env = "TRELLIS_CONSOLE_OIDC_SCOPES", default_value = "profile")]
    pub console_oidc_scopes: String,
    /// The console's public base URL as browsers reach it (e.g.
    /// https://trellis.clinic.example); the provider sends users back to
    /// <url>/console/sign-in/callback. Required with an issuer.
    #[arg(long, env = "TRELLIS_CONSOLE_URL")]
    pub console_url: Option<String>,
}

impl ConsoleArgs {
    pub(crate) fn oidc(&self) -> anyhow::Result<Option<Arc<OidcClient>>> {
        let Some(issuer) = self.console_oidc_issuer.clone().filter(|i| !i.is_empty()) else {
            return Ok(None);
        };
        let url = self
            .console_url
            .as_deref()
            .filter(|u| !u.is_empty())
            .context("TRELLIS_CONSOLE_URL is required with TRELLIS_CONSOLE_OIDC_ISSUER")?;
        let settings = OidcSettings {
            issuer,
            client_id: self.console_oidc_client_id.clone(),
            client_secret: self
                .console_oidc_client_secret
                .clone()
                .filter(|s| !s.is_empty()),
            redirect_uri: format!("{}/console/sign-in/callback", url.trim_end_matches('/')),
            scopes: self.console_oidc_scopes.clone(),
        };
        Ok(Some(Arc::new(
            OidcClient::new(settings).context("cannot build the console's OpenID client")?,
        )))
    }
}
