//! A plan's remembered state as bytes, for services that keep snapshots.
//! A snapshot is a cache, never the record: whatever cannot be read back
//! exactly is discarded and the plan is folded from its events.

use super::Plan;

/// The encoding version of [`Plan`]'s state. Bump it whenever what a field
/// means changes; a changed shape (a field added, removed or renamed)
/// already fails to decode, since every state struct denies unknown fields
/// and requires its own.
pub const PLAN_STATE_VERSION: u32 = 2;

/// Stored state that this code cannot read (another shape or version).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the stored plan state is not in this version's encoding")]
pub struct StateUnreadable;

impl Plan {
    /// The state, encoded for a snapshot of version [`PLAN_STATE_VERSION`].
    pub fn encode_state(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a plan's state always serializes")
    }

    /// The state a snapshot of `version` holds; never a guess.
    pub fn decode_state(version: u32, bytes: &[u8]) -> Result<Self, StateUnreadable> {
        if version != PLAN_STATE_VERSION {
            return Err(StateUnreadable);
        }
        serde_json::from_slice(bytes).map_err(|_| StateUnreadable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_plan_round_trips() {
        let plan = Plan::default();
        let bytes = plan.encode_state();
        assert_eq!(Plan::decode_state(PLAN_STATE_VERSION, &bytes), Ok(plan));
    }

    #[test]
    fn another_version_or_shape_is_not_read() {
        let bytes = Plan::default().encode_state();
        assert_eq!(
            Plan::decode_state(PLAN_STATE_VERSION + 1, &bytes),
            Err(StateUnreadable)
        );
        let mut shape: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        shape["renamed_field"] = serde_json::json!(1);
        let changed = serde_json::to_vec(&shape).unwrap();
        assert_eq!(
            Plan::decode_state(PLAN_STATE_VERSION, &changed),
            Err(StateUnreadable)
        );
        shape.as_object_mut().unwrap().remove("renamed_field");
        shape.as_object_mut().unwrap().remove("payer");
        let missing = serde_json::to_vec(&shape).unwrap();
        assert_eq!(
            Plan::decode_state(PLAN_STATE_VERSION, &missing),
            Err(StateUnreadable)
        );
    }
}
