//! What payers ask for: which sessions, how long, how often, how many.
//! Checked the same for a command and for a template.

use crate::error::PlanError;
use crate::event::ServicePlanRecorded;
use crate::input::{MAX_SHORT_TEXT, MAX_TEXT, Violations};

/// Longest session a service plan may name, in minutes.
pub(super) const MAX_SESSION_MINUTES: u32 = 480;

pub(super) const MAX_SESSIONS: u32 = 500;

/// A service plan from a command or a template, checked and trimmed.
pub fn checked_service_plan(c: &ServicePlanRecorded) -> Result<ServicePlanRecorded, PlanError> {
    let mut v = Violations::default();
    v.required("session_type", &c.session_type, MAX_SHORT_TEXT);
    v.required("frequency", &c.frequency, MAX_SHORT_TEXT);
    if !(1..=MAX_SESSION_MINUTES).contains(&c.minutes) {
        v.push(
            "minutes",
            format!("must be between 1 and {MAX_SESSION_MINUTES}"),
        );
    }
    if !(1..=MAX_SESSIONS).contains(&c.sessions_min) {
        v.push(
            "sessions_min",
            format!("must be between 1 and {MAX_SESSIONS}"),
        );
    }
    if c.sessions_max < c.sessions_min || c.sessions_max > MAX_SESSIONS {
        v.push(
            "sessions_max",
            format!("must be at least sessions_min and at most {MAX_SESSIONS}"),
        );
    }
    v.optional("focus", &c.focus, MAX_TEXT);
    v.optional("maintenance", &c.maintenance, MAX_TEXT);
    v.list("monitoring", c.monitoring.len());
    for entry in &c.monitoring {
        v.required("monitoring", entry, MAX_TEXT);
    }
    v.finish()?;
    Ok(ServicePlanRecorded {
        session_type: c.session_type.trim().to_owned(),
        minutes: c.minutes,
        frequency: c.frequency.trim().to_owned(),
        sessions_min: c.sessions_min,
        sessions_max: c.sessions_max,
        focus: c.focus.trim().to_owned(),
        maintenance: c.maintenance.trim().to_owned(),
        monitoring: c.monitoring.iter().map(|m| m.trim().to_owned()).collect(),
    })
}
