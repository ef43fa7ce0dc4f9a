//! The plan as it stood, and what changed between two versions.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use trellis_kernel::RecordedEvent;
use trellis_projector::{PlanView, apply_event};

/// A point in a plan's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// Everything recorded at or before this server time.
    Time(DateTime<Utc>),
    /// Everything up to and including this stream revision.
    Version(u64),
}

/// Folds the events up to `as_of` into the plan as it stood then. `None`
/// when the plan did not exist yet.
pub fn plan_as_of(events: &[RecordedEvent], as_of: AsOf) -> Option<PlanView> {
    let mut view = None;
    for event in events {
        let included = match as_of {
            AsOf::Time(t) => event.recorded_at <= t,
            AsOf::Version(v) => event.revision <= v,
        };
        if !included {
            break;
        }
        // An unreadable event is reported by verification, not here.
        let _ = apply_event(&mut view, event);
    }
    view
}

/// The plan as it stood at the last revision, at or before `up_to`, when
/// every required signer had signed its content version: what a payer may
/// be shown while a later change still awaits signatures. `None` when no
/// content version was ever fully signed by then.
pub fn last_fully_signed(events: &[RecordedEvent], up_to: u64) -> Option<PlanView> {
    let mut view = None;
    let mut signed_at = None;
    for event in events.iter().take_while(|e| e.revision <= up_to) {
        let _ = apply_event(&mut view, event);
        if view
            .as_ref()
            .is_some_and(|v| trellis_projector::compliance::pending_signatures(v).is_empty())
        {
            signed_at = Some(event.revision);
        }
    }
    match signed_at? {
        // Still signed at the end: the state already folded.
        at if view.as_ref().is_some_and(|v| v.version == at) => view,
        // Fold again rather than clone the plan after every signed event.
        at => plan_as_of(events, AsOf::Version(at)),
    }
}

/// One changed field between two documents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Field-level difference between two plan versions. List elements with an
/// id (`goal_id`, `objective_id`, `review_id`) are matched by id, so adding
/// a goal shows as one added goal, not as every later goal shifting.
pub fn diff(before: &PlanView, after: &PlanView) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let a = serde_json::to_value(before).expect("plan views serialize");
    let b = serde_json::to_value(after).expect("plan views serialize");
    diff_values("", Some(&a), Some(&b), &mut changes);
    changes
}

const ID_KEYS: [&str; 3] = ["goal_id", "objective_id", "review_id"];

fn element_id(v: &Value) -> Option<(&'static str, &str)> {
    ID_KEYS
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str).map(|id| (*k, id)))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn diff_values(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<FieldChange>) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                diff_values(&join(path, key), x.get(key), y.get(key), out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y)))
            if x.iter().chain(y.iter()).all(|v| element_id(v).is_some()) =>
        {
            let mut ids: Vec<(&str, &str)> = Vec::new();
            for id in x.iter().chain(y.iter()).filter_map(element_id) {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            for id in ids {
                let find =
                    |list: &'_ [Value]| list.iter().find(|v| element_id(v) == Some(id)).cloned();
                let (ea, eb) = (find(x), find(y));
                diff_values(
                    &format!("{path}[{}={}]", id.0, id.1),
                    ea.as_ref(),
                    eb.as_ref(),
                    out,
                );
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for i in 0..x.len().max(y.len()) {
                diff_values(&format!("{path}[{i}]"), x.get(i), y.get(i), out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(FieldChange {
            path: path.to_owned(),
            before: a.cloned(),
            after: b.cloned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use trellis_kernel::{Actor, EventMetadata, StreamName, TenantId};
    use trellis_plans_domain::{
        GoalAdded, GoalId, GoalTerm, PlanCreated, PlanEvent, PlanId, PlanSigned,
        PlanVersionStarted, SignerRole,
    };
    use uuid::Uuid;

    use super::*;

    /// `events` as a plan's stream, revisions from 0.
    fn stream(events: &[PlanEvent]) -> Vec<RecordedEvent> {
        let tenant = TenantId::parse("northside").unwrap();
        events
            .iter()
            .enumerate()
            .map(|(revision, event)| RecordedEvent {
                event_id: Uuid::new_v4(),
                stream: StreamName::new(tenant.clone(), "plan", "p1").unwrap(),
                revision: revision as u64,
                global_position: revision as u64 + 1,
                event_type: event.event_type().into(),
                schema_version: event.schema_version(),
                payload: event.encode(),
                metadata: EventMetadata {
                    actor: Actor {
                        subject: "clin-3".into(),
                        role: "clinician".into(),
                    },
                    correlation_id: Uuid::nil(),
                    causation_id: Uuid::nil(),
                    request_id: "r".into(),
                    trace_id: String::new(),
                    span_id: String::new(),
                    reason: None,
                },
                recorded_at: DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
                hash: trellis_kernel::EventHash::GENESIS,
            })
            .collect()
    }

    fn created() -> PlanEvent {
        PlanEvent::PlanCreated(PlanCreated {
            plan_id: PlanId(Uuid::from_u128(1)),
            client_id: "client-17".into(),
            primary_clinician_id: "clin-3".into(),
            clinic_id: "eastside".into(),
            title: "GAD".into(),
            created_on: "2026-11-29".parse().unwrap(),
            template: None,
            payer: String::new(),
        })
    }

    fn goal(n: u128) -> PlanEvent {
        PlanEvent::GoalAdded(GoalAdded {
            goal_id: GoalId(Uuid::from_u128(n)),
            description: format!("Goal {n}"),
            term: GoalTerm::ShortTerm,
        })
    }

    fn signed(role: SignerRole, version: u32) -> PlanEvent {
        PlanEvent::PlanSigned(PlanSigned {
            version,
            role,
            signer_id: "someone".into(),
            signed_on: "2026-11-30".parse().unwrap(),
        })
    }

    fn next_version(version: u32) -> PlanEvent {
        PlanEvent::PlanVersionStarted(PlanVersionStarted {
            version,
            changed_by: "AddGoal".into(),
        })
    }

    #[test]
    fn never_fully_signed_is_none() {
        let events = stream(&[created(), goal(2), signed(SignerRole::Clinician, 1)]);
        assert!(last_fully_signed(&events, 2).is_none());
    }

    #[test]
    fn while_a_change_awaits_signatures_the_state_before_it_is_shown() {
        let events = stream(&[
            created(),                        // 0
            goal(2),                          // 1
            signed(SignerRole::Clinician, 1), // 2
            signed(SignerRole::Client, 1),    // 3: fully signed
            goal(3),                          // 4: recorded while v1 is in force
            next_version(2),                  // 5: a material change starts v2
            goal(4),                          // 6
            signed(SignerRole::Clinician, 2), // 7: v2 half signed
        ]);
        let shown = last_fully_signed(&events, 7).unwrap();
        assert_eq!(shown.version, 4, "up to just before the change");
        assert_eq!(shown.plan_version, 1);
        assert_eq!(shown.goals.len(), 2);
        // As of an earlier point, the answer is bounded by it.
        assert_eq!(last_fully_signed(&events, 3).unwrap().version, 3);
        assert!(last_fully_signed(&events, 2).is_none());
    }

    #[test]
    fn a_later_version_signed_in_full_is_the_one_shown() {
        let events = stream(&[
            created(),
            signed(SignerRole::Clinician, 1),
            signed(SignerRole::Client, 1),
            next_version(2),
            goal(2),
            signed(SignerRole::Client, 2),
            signed(SignerRole::Clinician, 2), // 6: v2 fully signed
        ]);
        let shown = last_fully_signed(&events, 6).unwrap();
        assert_eq!((shown.version, shown.plan_version), (6, 2));
        assert_eq!(shown.goals.len(), 1);
    }

    fn changes(a: Value, b: Value) -> Vec<(String, Option<Value>, Option<Value>)> {
        let mut out = Vec::new();
        diff_values("", Some(&a), Some(&b), &mut out);
        out.into_iter()
            .map(|c| (c.path, c.before, c.after))
            .collect()
    }

    #[test]
    fn lists_with_ids_are_matched_by_id() {
        let before = json!({"goals": [{"goal_id": "g1", "description": "a"}]});
        let after = json!({"goals": [
            {"goal_id": "g0", "description": "new"},
            {"goal_id": "g1", "description": "a2"}
        ]});
        assert_eq!(
            changes(before, after),
            [
                (
                    "goals[goal_id=g1].description".to_owned(),
                    Some(json!("a")),
                    Some(json!("a2"))
                ),
                (
                    "goals[goal_id=g0]".to_owned(),
                    None,
                    Some(json!({"goal_id": "g0", "description": "new"}))
                ),
            ]
        );
    }

    #[test]
    fn equal_documents_have_no_changes() {
        let doc = json!({"a": [1, 2], "b": {"c": null}});
        assert!(changes(doc.clone(), doc).is_empty());
    }

    #[test]
    fn plain_lists_are_compared_by_position() {
        assert_eq!(
            changes(json!({"p": ["x"]}), json!({"p": ["x", "y"]})),
            [("p[1]".to_owned(), None, Some(json!("y")))]
        );
    }
}
