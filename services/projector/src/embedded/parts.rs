//! Long plan documents kept in parts. A plan that lives for a year holds
//! hundreds of goals, scores and reviews; writing its whole document on
//! every save would rewrite (and reseal) all of it for one new goal. So
//! each long list of a [`PlanView`] is kept in parts of [`PART_ITEMS`]
//! items, apart from the head (everything else), and a save writes only
//! the parts whose text changed since this process last wrote them
//! ([`WrittenParts`]).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use serde::de::DeserializeOwned;

use crate::sealing::decode_json;
use crate::{PlanView, ReadModelError};

/// Items of one list per part: a part holds at most this many, and a list
/// no longer than this stays in the head.
pub const PART_ITEMS: usize = 16;

/// Plans whose written parts are remembered, at most; past it the memory
/// is dropped and the next save of each plan writes all of its parts.
const REMEMBERED_PLANS: usize = 10_000;

/// Names one part: the list it holds items of, and which of its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartName {
    pub list: &'static str,
    pub index: u32,
}

impl PartName {
    /// As the `part` column keeps it: `goals/3`.
    pub fn key(self) -> String {
        format!("{}/{}", self.list, self.index)
    }

    /// The name a `part` column holds; `None` for a list this release does
    /// not keep in parts.
    pub fn parse(key: &str) -> Option<Self> {
        let (list, index) = key.split_once('/')?;
        let list = LONG_LISTS.iter().find(|l| **l == list)?;
        Some(Self {
            list,
            index: index.parse().ok()?,
        })
    }
}

/// One plan's document as it is stored: the head, and the parts of its
/// long lists in order (as JSON arrays).
#[derive(Debug)]
pub struct SplitDocument {
    pub head: String,
    pub parts: Vec<(PartName, String)>,
}

macro_rules! long_lists {
    ($($list:ident),* $(,)?) => {
        /// The lists of a plan that may grow long, kept in parts. A list
        /// not named here stays in the head, whatever its length.
        const LONG_LISTS: &[&str] = &[$(stringify!($list)),*];

        /// The document of `view` in a head and parts.
        pub fn split(mut view: PlanView) -> Result<SplitDocument, ReadModelError> {
            let mut parts = Vec::new();
            $(
                if view.$list.len() > PART_ITEMS {
                    let items = std::mem::take(&mut view.$list);
                    for (index, chunk) in (0u32..).zip(items.chunks(PART_ITEMS)) {
                        let name = PartName { list: stringify!($list), index };
                        parts.push((name, serde_json::to_string(chunk).map_err(unserializable)?));
                    }
                }
            )*
            let head = serde_json::to_string(&view).map_err(unserializable)?;
            Ok(SplitDocument { head, parts })
        }

        /// The plan again from its head and every one of its parts (opened),
        /// in any order; a part missing or out of place is corruption.
        pub fn join(
            head: &str,
            mut parts: Vec<(PartName, String)>,
        ) -> Result<PlanView, ReadModelError> {
            let mut view = decode_json(head)?;
            parts.sort_unstable_by_key(|(name, _)| *name);
            let mut expected = PartName { list: "", index: 0 };
            for (name, text) in parts {
                if name.list != expected.list {
                    expected = PartName { list: name.list, index: 0 };
                }
                if name != expected {
                    return Err(incomplete());
                }
                expected.index += 1;
                match name.list {
                    $(
                        stringify!($list) => {
                            if name.index == 0 && !view.$list.is_empty() {
                                return Err(incomplete());
                            }
                            extend_from(&mut view.$list, &text)?;
                        }
                    )*
                    _ => return Err(incomplete()),
                }
            }
            Ok(view)
        }
    };
}

long_lists!(
    goals,
    reviews,
    measures,
    safety_flags,
    diagnoses,
    interventions,
    status_changes,
    referrals,
    measure_schedule,
    consents,
    signatures,
);

/// [`join`] of a document kept in clear, with its parts as stored.
pub fn join_stored(head: &str, parts: Vec<(String, String)>) -> Result<PlanView, ReadModelError> {
    let parts = parts
        .into_iter()
        .map(|(key, text)| Ok((PartName::parse(&key).ok_or_else(incomplete)?, text)))
        .collect::<Result<Vec<_>, ReadModelError>>()?;
    join(head, parts)
}

fn extend_from<T: DeserializeOwned>(list: &mut Vec<T>, text: &str) -> Result<(), ReadModelError> {
    list.extend(serde_json::from_str::<Vec<T>>(text).map_err(|_| incomplete())?);
    Ok(())
}

fn unserializable(_: serde_json::Error) -> ReadModelError {
    ReadModelError::Corrupt("plan view does not serialize".into())
}

fn incomplete() -> ReadModelError {
    ReadModelError::Corrupt("a plan document's parts are incomplete".into())
}

/// Which text each part of a plan had when this process last wrote it, as
/// a keyed digest: a save writes a part only when its text changed. Only
/// what this process wrote and committed is remembered, and a plan it knows
/// nothing of has all its parts written, so the memory can only make a
/// save write more, never less. The key is random per process, so a text
/// cannot be made to collide with another on purpose.
#[derive(Debug, Default)]
pub struct WrittenParts {
    digests: HashMap<(String, String), Vec<(PartName, u64)>>,
    hasher: RandomState,
}

impl WrittenParts {
    pub fn digest(&self, text: &str) -> u64 {
        self.hasher.hash_one(text)
    }

    /// Whether the part, with text of this digest, is written already.
    pub fn holds(&self, plan: &(String, String), name: PartName, digest: u64) -> bool {
        self.digests
            .get(plan)
            .is_some_and(|parts| parts.contains(&(name, digest)))
    }

    /// The plan's parts are now these (committed).
    pub fn wrote(&mut self, plan: (String, String), parts: Vec<(PartName, u64)>) {
        if parts.is_empty() {
            self.digests.remove(&plan);
            return;
        }
        if self.digests.len() >= REMEMBERED_PLANS && !self.digests.contains_key(&plan) {
            self.digests.clear();
        }
        self.digests.insert(plan, parts);
    }

    /// What is written of the plan is not known (a save that did not
    /// commit, or one that left the plan as it was).
    pub fn forget(&mut self, plan: &(String, String)) {
        self.digests.remove(plan);
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};
    use trellis_plans_domain::{GoalTerm, ReviewOrigin};

    use super::*;
    use crate::view::{GoalView, ReviewView};

    fn plan(goals: usize) -> PlanView {
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let mut view = PlanView {
            tenant: "acme".into(),
            plan_id: "p-1".into(),
            title: "Plan".into(),
            updated_at: at,
            ..PlanView::default()
        };
        view.goals = (0..goals)
            .map(|n| GoalView {
                goal_id: format!("g-{n}"),
                description: format!("Goal {n}"),
                term: GoalTerm::ShortTerm,
                outcome: None,
                closed_on: None,
                objectives: Vec::new(),
                entered_in_error: None,
                revisions: Vec::new(),
                added: None,
            })
            .collect();
        view
    }

    #[test]
    fn long_lists_are_kept_in_parts_and_join_back_whole() {
        let mut view = plan(PART_ITEMS * 2 + 3);
        view.reviews = (0..=PART_ITEMS)
            .map(|n| ReviewView {
                review_id: format!("r-{n}"),
                due_on: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
                held_on: None,
                participants: vec!["c-1".into()],
                summary: None,
                decision: None,
                entered_in_error: None,
                origin: ReviewOrigin::Rule,
            })
            .collect();
        let split = split(view.clone()).unwrap();
        let names: Vec<String> = split.parts.iter().map(|(n, _)| n.key()).collect();
        assert_eq!(
            names,
            ["goals/0", "goals/1", "goals/2", "reviews/0", "reviews/1"]
        );
        assert!(!split.head.contains("Goal 0"), "goals left the head");
        let mut parts = split.parts;
        parts.reverse();
        assert_eq!(join(&split.head, parts).unwrap(), view);
    }

    #[test]
    fn a_short_plan_is_all_head() {
        let view = plan(PART_ITEMS);
        let split = split(view.clone()).unwrap();
        assert!(split.parts.is_empty());
        assert_eq!(join(&split.head, Vec::new()).unwrap(), view);
    }

    #[test]
    fn a_missing_or_repeated_part_is_corruption_not_a_shorter_plan() {
        let split = split(plan(PART_ITEMS * 3)).unwrap();
        let mut missing = split.parts.clone();
        missing.remove(1);
        let repeated = vec![split.parts[0].clone(), split.parts[0].clone()];
        for parts in [missing, repeated] {
            let error = join(&split.head, parts).unwrap_err();
            assert!(
                matches!(error, ReadModelError::Corrupt(ref m) if m.contains("incomplete")),
                "{error}"
            );
        }
    }

    #[test]
    fn part_names_round_trip_and_unknown_lists_are_refused() {
        let name = PartName {
            list: "measures",
            index: 12,
        };
        assert_eq!(PartName::parse(&name.key()), Some(name));
        assert_eq!(PartName::parse("title/0"), None);
        assert_eq!(PartName::parse("goals/x"), None);
    }

    #[test]
    fn written_parts_remember_only_what_was_committed() {
        let mut written = WrittenParts::default();
        let plan = ("acme".to_string(), "p-1".to_string());
        let name = PartName {
            list: "goals",
            index: 0,
        };
        let digest = written.digest("[1]");
        assert!(!written.holds(&plan, name, digest));
        written.wrote(plan.clone(), vec![(name, digest)]);
        assert!(written.holds(&plan, name, digest));
        assert!(!written.holds(&plan, name, written.digest("[2]")));
        written.forget(&plan);
        assert!(!written.holds(&plan, name, digest));
    }
}
