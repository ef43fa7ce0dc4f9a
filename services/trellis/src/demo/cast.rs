//! The people the demo acts as, each with a gRPC client carrying their
//! bearer token.

use chrono::Duration;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use trellis_auth::{Caller, Role, TokenIssuer};
use trellis_kernel::TenantId;
use trellis_proto::plans::v1::plan_service_client::PlanServiceClient;

use super::seed::SeedPlan;

pub(crate) const CLINICIAN: &str = "dr-rivera";
pub(crate) const SUPERVISOR: &str = "dr-okafor";
pub(crate) const ADMIN: &str = "clinic-it";
pub(crate) const CLINIC: &str = "main-street";
/// The demo's auditor (the console offers them; the demo itself does not act as one).
pub(crate) const AUDITOR: &str = "compliance-auditor";

/// Puts one caller's bearer token on every request.
pub(super) type Bearer =
    Box<dyn FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Send>;
pub(super) type Client =
    PlanServiceClient<tonic::service::interceptor::InterceptedService<Channel, Bearer>>;

/// A client acting as `caller`, by bearer token.
pub(super) fn client_as(
    channel: &Channel,
    issuer: &TokenIssuer,
    caller: Caller,
) -> anyhow::Result<(Client, String)> {
    let token = issuer.issue(&caller, Duration::hours(12))?;
    let bearer: MetadataValue<_> = format!("Bearer {token}").parse()?;
    let intercept: Bearer = Box::new(move |mut req: tonic::Request<()>| {
        req.metadata_mut().insert("authorization", bearer.clone());
        Ok(req)
    });
    Ok((
        PlanServiceClient::with_interceptor(channel.clone(), intercept),
        token,
    ))
}

/// The people the demo acts as.
pub(super) struct Cast {
    pub(super) clinician: Client,
    pub(super) supervisor: Client,
    pub(super) admin: Client,
    pub(super) channel: Channel,
    pub(super) issuer: TokenIssuer,
    pub(super) tenant: TenantId,
}

/// Someone of the demo clinic, in one role.
pub(super) fn member(tenant: &TenantId, subject: &str, role: Role) -> Caller {
    Caller {
        tenant: tenant.clone(),
        subject: subject.into(),
        roles: vec![role],
        clinics: vec![CLINIC.into()],
    }
}

impl Cast {
    pub(super) fn client_of(&self, plan: &SeedPlan) -> anyhow::Result<Client> {
        let caller = Caller {
            clinics: Vec::new(),
            ..member(&self.tenant, plan.client_id, Role::Client)
        };
        Ok(client_as(&self.channel, &self.issuer, caller)?.0)
    }
}
