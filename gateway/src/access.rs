//! What part of a tenant's plans a caller may read.

use trellis_auth::{Caller, Role};
use trellis_projector::compliance::PlanSummary;
use trellis_projector::{PlanFilter, PlanView};

/// What read access is decided on: a whole plan or its summary.
pub trait Scoped {
    fn tenant(&self) -> &str;
    fn clinic_id(&self) -> &str;
    fn client_id(&self) -> &str;
    fn treated_by(&self, clinician: &str) -> bool;
}

impl Scoped for PlanView {
    fn tenant(&self) -> &str {
        &self.tenant
    }
    fn clinic_id(&self) -> &str {
        &self.clinic_id
    }
    fn client_id(&self) -> &str {
        &self.client_id
    }
    fn treated_by(&self, clinician: &str) -> bool {
        PlanView::treated_by(self, clinician)
    }
}

impl Scoped for PlanSummary {
    fn tenant(&self) -> &str {
        &self.tenant
    }
    fn clinic_id(&self) -> &str {
        &self.clinic_id
    }
    fn client_id(&self) -> &str {
        &self.client_id
    }
    fn treated_by(&self, clinician: &str) -> bool {
        PlanSummary::treated_by(self, clinician)
    }
}

/// The role in which `caller` may read `plan`'s clinical content, if any.
/// A plan they may not read is answered exactly like one that does not
/// exist.
pub fn reading_role(caller: &Caller, plan: &impl Scoped) -> Option<Role> {
    if caller.tenant.as_str() != plan.tenant() {
        return None;
    }
    caller.roles.iter().copied().find(|role| match role {
        Role::Auditor => true,
        Role::Supervisor => caller.clinics.iter().any(|c| c == plan.clinic_id()),
        Role::Clinician => plan.treated_by(&caller.subject),
        Role::Client => plan.client_id() == caller.subject,
        // Minimum necessary: admins manage, they do not read care.
        Role::Admin => false,
    })
}

/// Narrows a listing's filter to what the caller may read. `None` when the
/// caller may read no plan at all.
pub fn scope_filter(caller: &Caller, requested: PlanFilter) -> Option<PlanFilter> {
    if caller.has_role(Role::Auditor) {
        return Some(requested);
    }
    // Callers with several roles get the widest scope among them.
    if caller.has_role(Role::Supervisor) && !caller.clinics.is_empty() {
        let clinics = match requested.clinic_ids {
            Some(asked) => asked
                .into_iter()
                .filter(|c| caller.clinics.contains(c))
                .collect(),
            None => caller.clinics.clone(),
        };
        return Some(PlanFilter {
            clinic_ids: Some(clinics),
            ..requested
        });
    }
    let narrow = |field: Option<String>| match field {
        // Asking for someone else's plans yields nothing, not an error.
        Some(asked) if asked != caller.subject => None,
        _ => Some(caller.subject.clone()),
    };
    if caller.has_role(Role::Clinician) {
        let clinician = narrow(requested.clinician_id.clone())?;
        return Some(PlanFilter {
            clinician_id: Some(clinician),
            ..requested
        });
    }
    if caller.has_role(Role::Client) {
        let client = narrow(requested.client_id.clone())?;
        return Some(PlanFilter {
            client_id: Some(client),
            ..requested
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use trellis_kernel::TenantId;

    use super::*;

    fn caller(subject: &str, role: Role, clinics: &[&str]) -> Caller {
        Caller {
            tenant: TenantId::parse("northside").unwrap(),
            subject: subject.into(),
            roles: vec![role],
            clinics: clinics.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    #[test]
    fn a_clinician_lists_only_their_own_plans() {
        let c = caller("clin-3", Role::Clinician, &[]);
        let scoped = scope_filter(&c, PlanFilter::default()).unwrap();
        assert_eq!(scoped.clinician_id.as_deref(), Some("clin-3"));
        let other = PlanFilter {
            clinician_id: Some("clin-9".into()),
            ..PlanFilter::default()
        };
        assert_eq!(scope_filter(&c, other), None);
    }

    #[test]
    fn a_supervisor_lists_their_clinics_only() {
        let c = caller("sup-1", Role::Supervisor, &["eastside"]);
        let asked = PlanFilter {
            clinic_ids: Some(vec!["eastside".into(), "westside".into()]),
            ..PlanFilter::default()
        };
        let scoped = scope_filter(&c, asked).unwrap();
        assert_eq!(scoped.clinic_ids, Some(vec!["eastside".to_owned()]));
    }

    #[test]
    fn a_client_lists_only_their_own_plans_and_an_admin_none() {
        let c = caller("client-17", Role::Client, &[]);
        let scoped = scope_filter(&c, PlanFilter::default()).unwrap();
        assert_eq!(scoped.client_id.as_deref(), Some("client-17"));
        assert_eq!(
            scope_filter(&caller("adm", Role::Admin, &[]), PlanFilter::default()),
            None
        );
    }
}
