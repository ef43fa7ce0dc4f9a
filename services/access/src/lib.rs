//! Who may see and change which treatment plan: the one access policy.
//!
//! Each role reaches part of its own tenant's plans: an auditor the whole
//! tenant, read-only; a supervisor the plans of the clinics in their token;
//! a clinician the plans whose care team they are on, primary included; a
//! client their own plans; an admin every plan, but only to assign its care
//! team — never its clinical content. That rule is written once
//! (`reach`); commands ([`authorize_command`]), reads ([`reading_role`]) and
//! listings ([`list_scope`]) all decide from it, so the plans service and
//! the gateway cannot drift apart.
//!
//! Architecture invariant: policy only. Knows plans through [`PlanScope`]
//! and callers through `trellis-auth`; never a read model, store, transport
//! or schema.

use trellis_auth::{Caller, Role};
use trellis_plans_domain::{CareAssignment, PlanCommand, ProgressSource, SignerRole};

/// Why a caller may not do something. `NotVisible` must be answered
/// exactly like a plan that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccessDenied {
    #[error("the caller's role may not send this command")]
    RoleMayNot,
    #[error("plan not found")]
    NotVisible,
}

/// What access to a plan is decided on: whose tenant, clinic and client it
/// is, and who treats it.
pub trait PlanScope {
    /// The tenant whose plan this is, where the value carries it. `None`
    /// for a value folded from a stream the caller's own tenant named
    /// (`<tenant>:plan-<id>`), which cannot be another tenant's.
    fn tenant(&self) -> Option<&str>;
    fn clinic_id(&self) -> &str;
    fn client_id(&self) -> &str;
    /// Whether `clinician` is on the plan's care team, primary included.
    fn treated_by(&self, clinician: &str) -> bool;
}

impl PlanScope for CareAssignment {
    fn tenant(&self) -> Option<&str> {
        // The plans service folds it from the caller's own tenant's stream.
        None
    }
    fn clinic_id(&self) -> &str {
        &self.clinic_id
    }
    fn client_id(&self) -> &str {
        &self.client_id
    }
    fn treated_by(&self, clinician: &str) -> bool {
        self.treats(clinician)
    }
}

/// How far one role reaches into its tenant's plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach<'a> {
    /// Every plan, clinical content included, to audit it (auditors).
    WholeTenant,
    /// Every plan, but only who treats it (admins): minimum necessary.
    CareTeams,
    /// Plans of these clinics (supervisors).
    Clinics(&'a [String]),
    /// Plans whose care team, primary clinician included, has this
    /// clinician.
    Caseload(&'a str),
    /// This client's own plans.
    OwnPlans(&'a str),
}

/// The scope rule: how far `caller` reaches when acting as `role`.
fn reach(caller: &Caller, role: Role) -> Reach<'_> {
    match role {
        Role::Auditor => Reach::WholeTenant,
        Role::Admin => Reach::CareTeams,
        Role::Supervisor => Reach::Clinics(&caller.clinics),
        Role::Clinician => Reach::Caseload(&caller.subject),
        Role::Client => Reach::OwnPlans(&caller.subject),
    }
}

impl Reach<'_> {
    fn covers(self, plan: &(impl PlanScope + ?Sized)) -> bool {
        match self {
            Self::WholeTenant | Self::CareTeams => true,
            Self::Clinics(clinics) => clinics.iter().any(|c| c == plan.clinic_id()),
            Self::Caseload(clinician) => plan.treated_by(clinician),
            Self::OwnPlans(client) => plan.client_id() == client,
        }
    }

    fn shows_clinical_content(self) -> bool {
        self != Self::CareTeams
    }

    /// Which reach a listing follows when a caller holds several roles:
    /// the widest, so a supervisor who also treats lists the clinic. `None`
    /// for a reach that lists no clinical content, or no plan at all.
    fn listing_rank(self) -> Option<u8> {
        match self {
            Self::WholeTenant => Some(0),
            Self::Clinics(clinics) if !clinics.is_empty() => Some(1),
            Self::Caseload(_) => Some(2),
            Self::OwnPlans(_) => Some(3),
            Self::Clinics(_) | Self::CareTeams => None,
        }
    }
}

/// Whether `caller`, acting as `role`, reaches `plan`: the tenant is theirs
/// and the role's reach covers it.
fn reaches(caller: &Caller, role: Role, plan: &(impl PlanScope + ?Sized)) -> bool {
    plan.tenant().is_none_or(|t| t == caller.tenant.as_str()) && reach(caller, role).covers(plan)
}

/// The role in which `caller` may read `plan`'s clinical content, if any:
/// the first of their roles that reaches it. A plan they may not read is
/// answered exactly like one that does not exist.
pub fn reading_role(caller: &Caller, plan: &(impl PlanScope + ?Sized)) -> Option<Role> {
    caller
        .roles
        .iter()
        .copied()
        .find(|&role| reach(caller, role).shows_clinical_content() && reaches(caller, role, plan))
}

/// Whether `caller` reaches `plan` as one of its clinicians or as its
/// supervisor — the care team, whom safety alerts are for — whatever other
/// roles they also hold (an auditor who also treats still treats).
pub fn cares_for(caller: &Caller, plan: &(impl PlanScope + ?Sized)) -> bool {
    caller.roles.iter().any(|&role| {
        matches!(role, Role::Clinician | Role::Supervisor) && reaches(caller, role, plan)
    })
}

/// Decides the role a caller acts in for `command` on `plan` (`None` for
/// a plan that does not exist yet).
pub fn authorize_command<P: PlanScope + ?Sized>(
    caller: &Caller,
    command: &PlanCommand,
    plan: Option<&P>,
) -> Result<Role, AccessDenied> {
    // Clients report on themselves: progress, and questionnaire answers.
    let self_report = match command {
        PlanCommand::RecordObjectiveProgress(c) => c.source == ProgressSource::ClientSelfReport,
        PlanCommand::RecordMeasure(c) => c.source == ProgressSource::ClientSelfReport,
        PlanCommand::RecordMeasures(c) => c
            .measures
            .iter()
            .all(|m| m.source == ProgressSource::ClientSelfReport),
        _ => false,
    };
    // A signature is given in the role it names, by someone holding it.
    let allowed: &[Role] = match command {
        PlanCommand::SignPlan(c) => match c.role {
            SignerRole::Clinician => &[Role::Clinician],
            SignerRole::Client => &[Role::Client],
            SignerRole::Supervisor => &[Role::Supervisor],
        },
        // Who treats is an administrative matter, not clinical content.
        PlanCommand::AssignCareTeam(_) => &[Role::Admin, Role::Supervisor],
        // Erasing a client is an administrator's act, never a clinician's.
        PlanCommand::EraseClientContent(_) => &[Role::Admin],
        _ if self_report => &[Role::Client, Role::Clinician, Role::Supervisor],
        _ => &[Role::Clinician, Role::Supervisor],
    };
    // Try each role the caller holds that may send this command; the first
    // whose reach covers the plan is the role they act in.
    let mut any_role = false;
    // Tried to create a plan for someone else's clinic or caseload.
    let mut outside_own = false;
    for role in caller.roles.iter().copied().filter(|r| allowed.contains(r)) {
        any_role = true;
        let Some(plan) = plan else {
            // Creating a plan, or a command on a missing plan: the
            // aggregate answers (not found / created) — but one creates
            // plans only in one's own clinics, and a clinician only their
            // own. An empty field is left for the aggregate to name.
            let creating = match command {
                PlanCommand::CreatePlan(c) => Some(c),
                PlanCommand::CreatePlanFromTemplate(c) => Some(&c.create),
                _ => None,
            };
            if let Some(c) = creating {
                let primary = c.primary_clinician_id.trim();
                let clinic = c.clinic_id.trim();
                let own_clinic = clinic.is_empty() || caller.clinics.iter().any(|c| c == clinic);
                let allowed = match role {
                    Role::Clinician => {
                        own_clinic && (primary.is_empty() || primary == caller.subject)
                    }
                    Role::Supervisor => own_clinic,
                    _ => false,
                };
                if !allowed {
                    outside_own = true;
                    continue;
                }
            }
            return Ok(role);
        };
        if reaches(caller, role, plan) {
            return Ok(role);
        }
    }
    if any_role && !outside_own {
        Err(AccessDenied::NotVisible)
    } else {
        Err(AccessDenied::RoleMayNot)
    }
}

/// Who may change tenant settings (review rules, templates): admins only.
pub fn authorize_settings_change(caller: &Caller) -> Result<Role, AccessDenied> {
    if caller.roles.contains(&Role::Admin) {
        Ok(Role::Admin)
    } else {
        Err(AccessDenied::RoleMayNot)
    }
}

/// Who may read tenant settings: everyone but clients.
pub fn authorize_settings_read(caller: &Caller) -> Result<(), AccessDenied> {
    if caller.roles.iter().any(|r| *r != Role::Client) {
        Ok(())
    } else {
        Err(AccessDenied::RoleMayNot)
    }
}

/// What a listing of plans asked for, before it is narrowed to the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListRequest<'a> {
    pub clinician_id: Option<&'a str>,
    pub client_id: Option<&'a str>,
    /// `None` means any clinic.
    pub clinic_ids: Option<&'a [String]>,
}

/// What a listing must be narrowed to, on top of what it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListScope {
    /// Nothing more: the caller may read the whole tenant.
    All,
    /// Plans of these clinics only (the asked ones the caller supervises).
    Clinics(Vec<String>),
    /// Plans whose care team has this clinician, primary included.
    Clinician(String),
    /// This client's plans only.
    Client(String),
}

/// Narrows a listing to what `caller` may read. `None` when the caller may
/// read no plan of the listing at all.
pub fn list_scope(caller: &Caller, requested: ListRequest<'_>) -> Option<ListScope> {
    // Callers with several roles get the widest reach among them.
    let widest = caller
        .roles
        .iter()
        .map(|&role| reach(caller, role))
        .filter_map(|reach| Some((reach.listing_rank()?, reach)))
        .min_by_key(|(rank, _)| *rank)
        .map(|(_, reach)| reach)?;
    let oneself = |asked: Option<&str>, me: &str| match asked {
        // Asking for someone else's plans yields nothing, not an error.
        Some(asked) if asked != me => None,
        _ => Some(me.to_owned()),
    };
    match widest {
        Reach::WholeTenant => Some(ListScope::All),
        Reach::Clinics(clinics) => Some(ListScope::Clinics(match requested.clinic_ids {
            Some(asked) => asked
                .iter()
                .filter(|c| clinics.contains(c))
                .cloned()
                .collect(),
            None => clinics.to_vec(),
        })),
        Reach::Caseload(clinician) => {
            oneself(requested.clinician_id, clinician).map(ListScope::Clinician)
        }
        Reach::OwnPlans(client) => oneself(requested.client_id, client).map(ListScope::Client),
        // Ranked out above: admins list no clinical content.
        Reach::CareTeams => None,
    }
}

#[cfg(test)]
mod tests;
