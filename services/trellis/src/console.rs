//! The console's settings from the command line: in development mode (and
//! only when tokens are verified with the development secret) a "sign in
//! as" page for the demo tenant's people.

use std::sync::Arc;

use anyhow::Context;
use trellis_auth::{DEV_SECRET, Role, TokenIssuer};
use trellis_gateway::console::{ConsoleConfig, DevPerson, DevSignIn, OidcClient, OidcSettings};
use trellis_kernel::TenantId;
use trellis_projector::ReadModelStore;

use crate::args::SecretArgs;
use crate::demo;

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
    fn oidc(&self) -> anyhow::Result<Option<Arc<OidcClient>>> {
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

/// The tenant `trellis demo` fills, and the console's sign-in page offers.
const DEMO_TENANT: &str = "demo";

pub(crate) fn config(
    console: &ConsoleArgs,
    secret: &SecretArgs,
    read_models: Arc<dyn ReadModelStore>,
) -> anyhow::Result<ConsoleConfig> {
    let development_secret = secret.dev
        && secret.jwks_file.is_none()
        && secret.jwt_secret.as_deref().is_none_or(str::is_empty);
    let dev_sign_in = if development_secret {
        Some(DevSignIn {
            issuer: TokenIssuer::hs256(DEV_SECRET.as_bytes())?,
            tenant: TenantId::parse(DEMO_TENANT)?,
            people: people(),
        })
    } else {
        None
    };
    Ok(ConsoleConfig {
        dev_sign_in,
        oidc: console.oidc()?,
        read_models: Some(read_models),
    })
}

fn person(subject: &str, role: Role, clinics: &[&str], label: &str) -> DevPerson {
    DevPerson {
        subject: subject.into(),
        role,
        clinics: clinics.iter().map(|c| (*c).to_owned()).collect(),
        label: label.into(),
    }
}

/// The demo's people, as `trellis demo` makes them act.
fn people() -> Vec<DevPerson> {
    let clinic = [demo::CLINIC];
    let mut people = vec![
        person(
            demo::CLINICIAN_ID,
            Role::Clinician,
            &clinic,
            "Dr. Rivera, clinician",
        ),
        person(
            demo::SUPERVISOR_ID,
            Role::Supervisor,
            &clinic,
            "Dr. Okafor, clinical supervisor",
        ),
        person(demo::AUDITOR, Role::Auditor, &[], "Compliance auditor"),
        person(
            demo::ADMIN_ID,
            Role::Admin,
            &clinic,
            "Clinic IT, administrator",
        ),
    ];
    people.extend(
        demo::clients()
            .into_iter()
            .map(|(subject, label)| person(subject, Role::Client, &[], label)),
    );
    people
}
