//! Listings narrowed to what the caller may read. The rule is
//! `trellis-access`'s; this only spells its answer as a read-model filter.

use trellis_access::{ListRequest, ListScope, list_scope};
use trellis_auth::Caller;
use trellis_projector::PlanFilter;

/// Narrows a listing's filter to what the caller may read, keeping what
/// else it asked for. `None` when the caller may read no plan at all.
pub fn scope_filter(caller: &Caller, requested: PlanFilter) -> Option<PlanFilter> {
    let scope = list_scope(
        caller,
        ListRequest {
            clinician_id: requested.clinician_id.as_deref(),
            client_id: requested.client_id.as_deref(),
            clinic_ids: requested.clinic_ids.as_deref(),
        },
    )?;
    Some(match scope {
        ListScope::All => requested,
        ListScope::Clinics(clinics) => PlanFilter {
            clinic_ids: Some(clinics),
            ..requested
        },
        ListScope::Clinician(clinician) => PlanFilter {
            clinician_id: Some(clinician),
            ..requested
        },
        ListScope::Client(client) => PlanFilter {
            client_id: Some(client),
            ..requested
        },
    })
}

#[cfg(test)]
mod tests {
    use trellis_auth::Role;
    use trellis_kernel::TenantId;

    use super::*;

    #[test]
    fn narrowing_keeps_what_else_the_listing_asked_for() {
        let supervisor = Caller {
            tenant: TenantId::parse("northside").unwrap(),
            subject: "sup-1".into(),
            roles: vec![Role::Supervisor],
            clinics: vec!["eastside".into()],
        };
        let asked = PlanFilter {
            client_id: Some("client-17".into()),
            ..PlanFilter::default()
        };
        assert_eq!(
            scope_filter(&supervisor, asked),
            Some(PlanFilter {
                client_id: Some("client-17".into()),
                clinic_ids: Some(vec!["eastside".into()]),
                ..PlanFilter::default()
            })
        );
    }
}
