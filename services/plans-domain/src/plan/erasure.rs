//! Erasing a plan's client: the decision that the retention period is
//! over (or that an override states why not wait), and what the erased
//! plan keeps — its shape and who treated under it, never its content.

use chrono::{Datelike as _, NaiveDate};

use super::Plan;
use crate::command::EraseClientContent;
use crate::error::PlanError;
use crate::event::{ClientErased, ErasureBasis, PlanEvent, PlanShape};
use crate::input::{MAX_TEXT, Violations};
use crate::status::PlanStatus;

/// The day `years` after `from` (the 28th for a 29 February that has none).
fn years_after(from: NaiveDate, years: u32) -> NaiveDate {
    let year = from
        .year()
        .saturating_add(i32::try_from(years).unwrap_or(i32::MAX));
    from.with_year(year)
        .or_else(|| NaiveDate::from_ymd_opt(year, from.month(), 28))
        .unwrap_or(NaiveDate::MAX)
}

impl EraseClientContent {
    /// The override reason's rules, judged without any plan (so a client
    /// with none gets the same answer): present when given, one line of
    /// at most `MAX_TEXT` characters.
    pub fn check(&self) -> Result<(), PlanError> {
        let Some(reason) = self.override_reason.as_deref() else {
            return Ok(());
        };
        let mut v = Violations::default();
        v.required("override_reason", reason, MAX_TEXT);
        if reason.chars().any(char::is_control) {
            v.push("override_reason", "must be one line");
        }
        v.finish()
    }
}

impl Plan {
    pub(super) fn erase_client(
        &self,
        c: &EraseClientContent,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let mut retention_years = None;
        let basis = match c.override_reason.as_deref() {
            Some(_) => {
                c.check()?;
                ErasureBasis::Override
            }
            None => {
                let PlanStatus::Closed(_) = self.status else {
                    return Err(PlanError::NotClosedForErasure(self.status));
                };
                // A plan closed before this field was kept counts from today.
                let closed_on = self.closed_on.unwrap_or(today);
                let ends = years_after(closed_on, c.retention_years);
                if today < ends {
                    return Err(PlanError::RetentionNotElapsed(ends));
                }
                retention_years = Some(c.retention_years);
                ErasureBasis::RetentionElapsed
            }
        };
        let care = self.care.clone().unwrap_or_else(|| super::CareAssignment {
            client_id: String::new(),
            primary_clinician_id: String::new(),
            clinic_id: String::new(),
            care_team: Vec::new(),
        });
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Ok(vec![PlanEvent::ClientErased(ClientErased {
            plan_id: self.id.ok_or(PlanError::PlanNotFound)?,
            erased_on: today,
            basis,
            clinic_id: care.clinic_id,
            primary_clinician_id: care.primary_clinician_id,
            care_team: care.care_team,
            status: self.status,
            shape: PlanShape {
                goals: count(self.goals.len()),
                objectives: count(self.objectives.len()),
                interventions: count(self.interventions.len()),
                diagnoses: count(self.diagnoses.len()),
                reviews: count(self.reviews.len()),
                measures: count(self.scores.len()),
                signatures: count(self.signatures.len()),
            },
            retention_years,
        })])
    }
}
