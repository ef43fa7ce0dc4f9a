use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A treatment plan.
    PlanId
);
id_type!(
    /// A goal within a plan.
    GoalId
);
id_type!(
    /// An objective under a goal.
    ObjectiveId
);
id_type!(
    /// A scheduled (and later held) review.
    ReviewId
);
id_type!(
    /// One administration of a standardized measure.
    MeasureId
);
id_type!(
    /// A therapeutic intervention the plan uses.
    InterventionId
);
id_type!(
    /// A referral to collaborative care.
    ReferralId
);
id_type!(
    /// A safety concern raised for the care team (its measure's id).
    SafetyFlagId
);

/// The id of the `n`th `kind` (goal, objective, intervention) a command
/// creates inside a plan, e.g. from a template: stable across retries.
pub fn child_id(plan: PlanId, kind: &str, n: usize) -> Uuid {
    Uuid::new_v5(&plan.0, format!("{kind}-{n}").as_bytes())
}

/// Namespace for ids derived from a command id, so a retried command that
/// left its ids to the server gets the very same ids again.
const DERIVED_ID_NAMESPACE: Uuid = Uuid::from_u128(0x7f1c_52a4_9b3e_4d0a_8c61_2e5f_a9d0_b317);

/// A stable id for the `purpose` of one command (e.g. `"plan"`, `"event-0"`).
/// The tenant is part of the input so equal command ids in two tenants
/// never collide.
pub fn derive_id(tenant: &str, command_id: Uuid, purpose: &str) -> Uuid {
    let mut name = Vec::with_capacity(tenant.len() + purpose.len() + 18);
    name.extend_from_slice(tenant.as_bytes());
    name.push(0);
    name.extend_from_slice(command_id.as_bytes());
    name.push(0);
    name.extend_from_slice(purpose.as_bytes());
    Uuid::new_v5(&DERIVED_ID_NAMESPACE, &name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_tenant_scoped() {
        let command = Uuid::from_u128(42);
        assert_eq!(
            derive_id("a", command, "plan"),
            derive_id("a", command, "plan")
        );
        assert_ne!(
            derive_id("a", command, "plan"),
            derive_id("b", command, "plan")
        );
        assert_ne!(
            derive_id("a", command, "plan"),
            derive_id("a", command, "goal")
        );
    }
}
