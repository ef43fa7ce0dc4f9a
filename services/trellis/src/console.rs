//! The console's settings from the command line: in development mode (and
//! only when tokens are verified with the development secret) a "sign in
//! as" page for the demo tenant's people.

use std::sync::Arc;

use trellis_auth::{DEV_SECRET, Role, TokenIssuer};
use trellis_gateway::console::{ConsoleConfig, DevPerson, DevSignIn};
use trellis_kernel::TenantId;
use trellis_projector::ReadModelStore;

use crate::args::SecretArgs;
use crate::console_args::ConsoleArgs;
use crate::demo;

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
