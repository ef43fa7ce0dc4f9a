//! Long plan documents kept in parts. A plan that lives for a year holds
//! hundreds of goals, scores and reviews; writing its whole document on
//! every save would rewrite (and reseal) all of it for one new goal. So
//! each long list of a [`PlanView`] is kept in parts of [`PART_ITEMS`]
//! items, apart from the head (everything else), and a save writes only
//! the parts whose text changed since this process last wrote them
//! ([`WrittenParts`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

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
        Some(Self {
            list: Self::list_named(list)?,
            index: index.parse().ok()?,
        })
    }

    fn list_named(list: &str) -> Option<&'static str> {
        LONG_LISTS.iter().find(|l| **l == list).copied()
    }
}

/// One plan's document split: the head (the plan without the lists kept
/// in parts) and the parts of those lists in order (as JSON arrays).
#[derive(Debug)]
pub struct SplitDocument {
    pub head: PlanView,
    pub parts: Vec<(PartName, String)>,
}

/// A stored part, as read: its name, the plan version it was written at,
/// and its text.
pub type ReadPart = (PartName, u64, String);

/// The field of a stored head that records, for each list kept in parts,
/// the plan version each of its parts was written at: a part missing,
/// left over, or older than the head says reads as corrupt.
const RECORDED: &str = "$parts";

#[derive(Serialize)]
struct Head<'a> {
    #[serde(flatten)]
    view: &'a PlanView,
    #[serde(rename = "$parts", skip_serializing_if = "BTreeMap::is_empty")]
    parts: BTreeMap<&'static str, Vec<u64>>,
}

#[derive(Deserialize)]
struct Recorded {
    #[serde(rename = "$parts", default)]
    parts: BTreeMap<String, Vec<u64>>,
}

/// The head as stored: `head` with the version each part (in order) was
/// written at.
pub fn head_text(head: &PlanView, parts: &[(PartName, u64)]) -> Result<String, ReadModelError> {
    let mut recorded: BTreeMap<&'static str, Vec<u64>> = BTreeMap::new();
    for (name, written_at) in parts {
        recorded.entry(name.list).or_default().push(*written_at);
    }
    let head = Head {
        view: head,
        parts: recorded,
    };
    serde_json::to_string(&head).map_err(unserializable)
}

/// The parts a stored head says its plan has, in order, with the version
/// each was written at.
pub fn recorded_parts(head: &str) -> Result<Vec<(PartName, u64)>, ReadModelError> {
    if !head.contains(RECORDED) {
        return Ok(Vec::new());
    }
    let recorded: Recorded = serde_json::from_str(head)
        .map_err(|_| ReadModelError::Corrupt("malformed plan document".into()))?;
    let mut parts = Vec::new();
    for (list, versions) in recorded.parts {
        let list = PartName::list_named(&list).ok_or_else(incomplete)?;
        for (index, written_at) in (0u32..).zip(versions) {
            parts.push((PartName { list, index }, written_at));
        }
    }
    parts.sort_unstable();
    Ok(parts)
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
            Ok(SplitDocument { head: view, parts })
        }

        /// The plan again from its stored head and its parts (opened), in
        /// any order: exactly the parts the head records, each written at
        /// the version it records, or the plan reads as corrupt.
        pub fn join(head: &str, mut parts: Vec<ReadPart>) -> Result<PlanView, ReadModelError> {
            let mut view = decode_json(head)?;
            let recorded = recorded_parts(head)?;
            parts.sort_unstable_by_key(|(name, _, _)| *name);
            let read: Vec<(PartName, u64)> = parts.iter().map(|(n, v, _)| (*n, *v)).collect();
            if read != recorded {
                return Err(incomplete());
            }
            for (name, _, text) in parts {
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
/// a keyed digest, and at which plan version: a save writes a part only
/// when its text changed, and otherwise records the version it was
/// written at again. Only what this process wrote and committed is
/// remembered, and a plan it knows nothing of has all its parts written.
/// Should the file have changed behind it (another process writing the
/// same file), the head names versions the parts do not have, and the
/// plan reads as corrupt rather than wrong. The key is random per
/// process, so a text cannot be made to collide with another on purpose.
#[derive(Debug, Default)]
pub struct WrittenParts {
    parts: HashMap<(String, String), Vec<WrittenPart>>,
    /// Plans whose stored copy was found corrupt: written whole by the next
    /// save, even at the version already stored.
    corrupt: HashSet<(String, String)>,
    hasher: RandomState,
}

/// A part as written: its name, the digest of its text, and the plan
/// version it was written at.
pub type WrittenPart = (PartName, u64, u64);

impl WrittenParts {
    pub fn digest(&self, text: &str) -> u64 {
        self.hasher.hash_one(text)
    }

    /// The version the part was written at, when it was written with text
    /// of this digest.
    pub fn written_at(&self, plan: &(String, String), name: PartName, digest: u64) -> Option<u64> {
        if self.corrupt.contains(plan) {
            return None;
        }
        self.parts
            .get(plan)?
            .iter()
            .find(|(n, d, _)| *n == name && *d == digest)
            .map(|(_, _, at)| *at)
    }

    /// The plan's parts are now these (committed); `whole`: every part of
    /// it was written, so it is no longer corrupt (a save built before it
    /// was found so leaves it marked).
    pub fn wrote(&mut self, plan: (String, String), parts: Vec<WrittenPart>, whole: bool) {
        if whole {
            self.corrupt.remove(&plan);
        }
        if parts.is_empty() {
            self.parts.remove(&plan);
            return;
        }
        if self.parts.len() >= REMEMBERED_PLANS && !self.parts.contains_key(&plan) {
            self.parts.clear();
        }
        self.parts.insert(plan, parts);
    }

    /// What is written of the plan is not known (a save that did not
    /// commit, or one that left the plan as it was).
    pub fn forget(&mut self, plan: &(String, String)) {
        self.parts.remove(plan);
    }

    /// The plan's stored copy does not read: the next save writes it
    /// whole, at its version even if that is the one stored.
    pub fn found_corrupt(&mut self, plan: (String, String)) {
        self.parts.remove(&plan);
        if self.corrupt.len() >= REMEMBERED_PLANS {
            self.corrupt.clear();
        }
        self.corrupt.insert(plan);
    }

    /// Whether the plan's stored copy was found corrupt and not yet
    /// written whole since.
    pub fn is_corrupt(&self, plan: &(String, String)) -> bool {
        self.corrupt.contains(plan)
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

    /// The stored head and parts of `view`, every part written at `at`.
    fn stored(view: PlanView, at: u64) -> (String, Vec<ReadPart>) {
        let split = split(view).unwrap();
        let written: Vec<(PartName, u64)> = split.parts.iter().map(|(n, _)| (*n, at)).collect();
        let head = head_text(&split.head, &written).unwrap();
        let parts = split.parts.into_iter().map(|(n, t)| (n, at, t)).collect();
        (head, parts)
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
        let (head, mut parts) = stored(view.clone(), 7);
        let names: Vec<String> = parts.iter().map(|(n, _, _)| n.key()).collect();
        assert_eq!(
            names,
            ["goals/0", "goals/1", "goals/2", "reviews/0", "reviews/1"]
        );
        assert!(!head.contains("Goal 0"), "goals left the head");
        assert_eq!(recorded_parts(&head).unwrap().len(), 5);
        parts.reverse();
        assert_eq!(join(&head, parts).unwrap(), view);
    }

    #[test]
    fn a_short_plan_is_all_head_and_reads_as_a_whole_document() {
        let view = plan(PART_ITEMS);
        let (head, parts) = stored(view.clone(), 1);
        assert!(parts.is_empty());
        assert!(!head.contains(RECORDED));
        assert_eq!(join(&head, Vec::new()).unwrap(), view);
    }

    #[test]
    fn parts_missing_left_over_or_older_than_the_head_says_are_corruption() {
        let (head, parts) = stored(plan(PART_ITEMS * 3), 5);
        let mut last_missing = parts.clone();
        last_missing.pop();
        let mut older = parts.clone();
        older[1].1 = 4;
        let (_, more) = stored(plan(PART_ITEMS * 4), 5);
        let cases = [
            ("the last part missing", last_missing),
            ("every part missing", Vec::new()),
            ("a part written at another version", older),
            ("a part left over", more),
            ("a part twice", vec![parts[0].clone(), parts[0].clone()]),
        ];
        for (case, parts) in cases {
            let error = join(&head, parts).unwrap_err();
            assert!(
                matches!(error, ReadModelError::Corrupt(ref m) if m.contains("incomplete")),
                "{case}: {error}"
            );
        }
        // A head from before parts (the whole document) with parts beside it.
        let whole = serde_json::to_string(&plan(2)).unwrap();
        assert!(join(&whole, parts).is_err());
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

    /// A fresh memory, a plan, the name of its first part and a digest.
    fn one_part() -> (WrittenParts, (String, String), PartName, u64) {
        let written = WrittenParts::default();
        let digest = written.digest("[1]");
        let name = PartName {
            list: "goals",
            index: 0,
        };
        (written, ("acme".into(), "p-1".into()), name, digest)
    }

    #[test]
    fn written_parts_remember_only_what_was_committed() {
        let (mut written, plan, name, digest) = one_part();
        assert_eq!(written.written_at(&plan, name, digest), None);
        written.wrote(plan.clone(), vec![(name, digest, 3)], true);
        assert_eq!(written.written_at(&plan, name, digest), Some(3));
        assert_eq!(written.written_at(&plan, name, written.digest("[2]")), None);
        written.forget(&plan);
        assert_eq!(written.written_at(&plan, name, digest), None);
    }

    #[test]
    fn a_plan_found_corrupt_stays_so_until_a_save_writes_it_whole() {
        let (mut written, plan, name, digest) = one_part();
        written.found_corrupt(plan.clone());
        assert!(written.is_corrupt(&plan));
        // A save built before it was found so commits after: still marked.
        written.wrote(plan.clone(), vec![(name, digest, 3)], false);
        assert!(written.is_corrupt(&plan));
        assert_eq!(written.written_at(&plan, name, digest), None);
        written.wrote(plan.clone(), vec![(name, digest, 4)], true);
        assert!(!written.is_corrupt(&plan));
        assert_eq!(written.written_at(&plan, name, digest), Some(4));
    }
}
