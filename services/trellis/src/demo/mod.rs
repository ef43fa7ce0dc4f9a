//! `trellis demo`: the seed's two example plans (Emma Lee, GAD; Doug McGee,
//! MDD), made from the built-in templates and completed with each client's
//! own picture, sent through the gRPC API like any clinic app would: an
//! admin sets the review rule, the clinician writes and signs, the client
//! consents and signs, a supervisor co-signs, and the plan is activated.
//!
//! Command ids are derived from the tenant and a fixed name, so running the
//! demo twice changes nothing the second time.

mod cast;
mod doug;
mod emma;
mod load;
mod seed;

use anyhow::Context;
use chrono::Utc;
use tonic::transport::Endpoint;
use trellis_auth::{Role, TokenIssuer};
use trellis_kernel::TenantId;
use trellis_proto::plans::v1 as pb;

use crate::args::DemoArgs;
use cast::{ADMIN, CLINICIAN, Cast, SUPERVISOR, client_as, member};
use load::load_plan;

pub(crate) use cast::{ADMIN as ADMIN_ID, CLINICIAN as CLINICIAN_ID, SUPERVISOR as SUPERVISOR_ID};
pub(crate) use cast::{AUDITOR, CLINIC};

/// The demo's clients, as their plans name them.
pub(crate) fn clients() -> [(&'static str, &'static str); 2] {
    let emma = emma::plan();
    let doug = doug::plan();
    [
        (emma.client_id, "Emma Lee, client"),
        (doug.client_id, "Doug McGee, client"),
    ]
}

/// "Progress will be reviewed every 4-6 weeks": the tenant's default rule.
const REVIEW_INTERVAL_DAYS: u32 = 42;

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let tenant = TenantId::parse(&args.tenant).context("--tenant")?;
    let issuer = TokenIssuer::hs256(args.secret.secret()?)?;
    let endpoint = if args.grpc_addr.starts_with("http") {
        args.grpc_addr.clone()
    } else {
        format!("http://{}", args.grpc_addr)
    };
    let channel = Endpoint::from_shared(endpoint)?
        .connect()
        .await
        .with_context(|| {
            format!(
                "cannot reach trellis at {}; is `trellis serve` running?",
                args.grpc_addr
            )
        })?;
    let (clinician, token) = client_as(
        &channel,
        &issuer,
        member(&tenant, CLINICIAN, Role::Clinician),
    )?;
    let (supervisor, _) = client_as(
        &channel,
        &issuer,
        member(&tenant, SUPERVISOR, Role::Supervisor),
    )?;
    let (admin, _) = client_as(&channel, &issuer, member(&tenant, ADMIN, Role::Admin))?;
    let mut cast = Cast {
        clinician,
        supervisor,
        admin,
        channel,
        issuer,
        tenant: tenant.clone(),
    };

    // "Progress will be reviewed every 4-6 weeks."
    let rules = cast
        .admin
        .get_review_rules(pb::GetReviewRulesRequest {})
        .await
        .context("GetReviewRules")?
        .into_inner();
    if !rules
        .rules
        .iter()
        .any(|r| r.payer.is_empty() && r.interval_days == REVIEW_INTERVAL_DAYS)
    {
        cast.admin
            .set_review_rule(pb::SetReviewRuleRequest {
                payer: String::new(),
                interval_days: REVIEW_INTERVAL_DAYS,
                command_id: String::new(),
            })
            .await
            .context("SetReviewRule")?;
    }
    // How the payer document names the clinic's signers (once: a demo run
    // again changes nothing).
    let named = cast
        .admin
        .get_staff_directory(pb::GetStaffDirectoryRequest {})
        .await
        .context("GetStaffDirectory")?
        .into_inner()
        .members;
    for (subject, name, credentials) in [
        (CLINICIAN, "Ana Rivera", "PsyD, LP"),
        (SUPERVISOR, "Chidi Okafor", "PhD, LCSW"),
    ] {
        if named
            .iter()
            .any(|m| m.subject == subject && m.name == name && m.credentials == credentials)
        {
            continue;
        }
        cast.admin
            .set_staff_member(pb::SetStaffMemberRequest {
                subject: subject.into(),
                name: name.into(),
                credentials: credentials.into(),
                command_id: String::new(),
            })
            .await
            .context("SetStaffMember")?;
    }

    let today = Utc::now().date_naive();
    for plan in [emma::plan(), doug::plan()] {
        let plan_id = load_plan(&mut cast, &plan, today).await?;
        say!("{}: plan {plan_id}", plan.key);
    }
    say!("token (clinician {CLINICIAN}, tenant {tenant}): {token}");
    Ok(())
}
