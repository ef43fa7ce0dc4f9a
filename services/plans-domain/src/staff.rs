//! A tenant's staff directory: the name and credentials each person who
//! signs plans is shown with. A payer reads the rendering clinician's name
//! and licence on the plan; tokens carry only an id (`dr-rivera`).
//!
//! One stream per tenant (`<tenant>:staff-tenant`) of [`StaffEvent`]s;
//! admins set entries. It holds staff, never clients: Trellis keeps no
//! client demographics.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::codec::stored_events;
use crate::error::PlanError;
use crate::input::{MAX_ID, MAX_SHORT_TEXT, Violations};

/// Stream category and id of a tenant's staff directory.
pub const STAFF_CATEGORY: &str = "staff";
pub const STAFF_STREAM_ID: &str = "tenant";

/// How `subject` (a token's `sub`) is named on plans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMemberSet {
    pub subject: String,
    pub name: String,
    /// Degrees and licences as the payer expects them ("PsyD, LP").
    pub credentials: String,
}

stored_events! {
    /// What happens to a tenant's staff directory.
    pub enum StaffEvent {
        MemberSet(StaffMemberSet) = "StaffMemberSet" @ 1,
    }
}

/// One person as plans show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    pub subject: String,
    pub name: String,
    pub credentials: String,
}

/// Everyone named, by subject.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StaffDirectory {
    by_subject: BTreeMap<String, StaffMember>,
}

impl StaffDirectory {
    pub fn evolve(&mut self, event: &StaffEvent) {
        let StaffEvent::MemberSet(set) = event;
        self.by_subject.insert(
            set.subject.clone(),
            StaffMember {
                subject: set.subject.clone(),
                name: set.name.clone(),
                credentials: set.credentials.clone(),
            },
        );
    }

    /// Everyone, by subject.
    pub fn members(&self) -> Vec<StaffMember> {
        self.by_subject.values().cloned().collect()
    }

    pub fn get(&self, subject: &str) -> Option<&StaffMember> {
        self.by_subject.get(subject)
    }

    /// Names `subject` (again: the latest entry is the one shown).
    pub fn set(
        &self,
        subject: &str,
        name: &str,
        credentials: &str,
    ) -> Result<StaffEvent, PlanError> {
        let mut v = Violations::default();
        v.required("subject", subject, MAX_ID);
        v.required("name", name, MAX_SHORT_TEXT);
        v.optional("credentials", credentials, MAX_SHORT_TEXT);
        for (field, value) in [
            ("subject", subject),
            ("name", name),
            ("credentials", credentials),
        ] {
            if value.chars().any(char::is_control) {
                v.push(field, "must be one line of text");
            }
        }
        v.finish()?;
        Ok(StaffEvent::MemberSet(StaffMemberSet {
            subject: subject.trim().to_owned(),
            name: name.trim().to_owned(),
            credentials: credentials.trim().to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(events: &[StaffEvent]) -> StaffDirectory {
        let mut directory = StaffDirectory::default();
        for e in events {
            directory.evolve(e);
        }
        directory
    }

    #[test]
    fn the_latest_entry_names_a_person() {
        let empty = StaffDirectory::default();
        let directory = given(&[
            empty.set("dr-rivera", "Ana Rivera", "PsyD").unwrap(),
            empty
                .set(" dr-rivera ", " Dr. Ana Rivera ", "PsyD, LP")
                .unwrap(),
        ]);
        let rivera = directory.get("dr-rivera").unwrap();
        assert_eq!(rivera.name, "Dr. Ana Rivera");
        assert_eq!(rivera.credentials, "PsyD, LP");
        assert_eq!(directory.members().len(), 1);
    }

    #[test]
    fn a_missing_name_or_subject_is_refused_with_every_field_named() {
        let refused = StaffDirectory::default()
            .set(" ", "", &"x".repeat(201))
            .unwrap_err();
        let fields: Vec<&str> = refused.field_violations().iter().map(|v| v.field).collect();
        assert_eq!(fields, ["subject", "name", "credentials"]);
    }

    #[test]
    fn a_name_of_several_lines_is_refused() {
        let refused = StaffDirectory::default()
            .set("dr-rivera", "Ana\nRivera", "")
            .unwrap_err();
        assert_eq!(refused.field_violations()[0].field, "name");
        assert_eq!(
            refused.field_violations()[0].description,
            "must be one line of text"
        );
    }

    #[test]
    fn events_round_trip_through_their_stored_form() {
        let event = StaffDirectory::default()
            .set("dr-okafor", "Dr. Chidi Okafor", "PhD, LCSW")
            .unwrap();
        let decoded =
            StaffEvent::decode(event.event_type(), event.schema_version(), &event.encode())
                .unwrap();
        assert_eq!(decoded, event);
    }
}
