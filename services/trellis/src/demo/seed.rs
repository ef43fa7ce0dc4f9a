//! What a seed plan is: the client's own picture that completes a
//! built-in template.

use trellis_proto::plans::v1 as pb;

/// How the clinician completes one of the template's objective
/// placeholders, in template order.
pub(super) enum Completion {
    /// The client's own wording and numbers, due in `months`.
    Quantity {
        description: &'static str,
        baseline: f64,
        target: f64,
        months: u32,
    },
    /// Measured by a questionnaire: only the date is the client's.
    Measure { months: u32 },
}

/// A questionnaire at intake: item answers, or a total.
pub(super) struct Intake {
    pub(super) instrument: pb::Instrument,
    pub(super) answers: &'static [u32],
    pub(super) total: Option<u32>,
}

pub(super) struct SeedPlan {
    pub(super) key: &'static str,
    pub(super) template_id: &'static str,
    pub(super) client_id: &'static str,
    pub(super) title: &'static str,
    pub(super) payer: &'static str,
    /// ICD-10-CM codes, the primary first.
    pub(super) diagnoses: &'static [&'static str],
    /// The presenting problem as the article gives it, and its symptoms
    /// (name, frequency, intensity, onset).
    pub(super) narrative: &'static str,
    pub(super) symptoms: &'static [(&'static str, &'static str, &'static str, &'static str)],
    pub(super) intake_measures: &'static [Intake],
    pub(super) completions: Vec<Completion>,
    pub(super) strengths: &'static [&'static str],
    pub(super) barriers: &'static [&'static str],
    pub(super) supports: &'static [(pb::SupportKind, &'static str)],
    /// (to, reason, status)
    pub(super) referrals: &'static [(&'static str, &'static str, pb::ReferralStatus)],
    pub(super) warning_signs: &'static [&'static str],
    pub(super) coping_steps: &'static [&'static str],
    /// (name, relationship, phone)
    pub(super) contacts: &'static [(&'static str, &'static str, &'static str)],
    /// Whether the plan was gone through with the client at an intake review.
    pub(super) intake_review: bool,
    /// Whether a supervisor co-signs (a pre-licensed clinician's plan, or a
    /// client with suicidal ideation).
    pub(super) supervisor_cosigns: bool,
    /// Template goals reworded for this client: (goal index, wording).
    pub(super) personal_goals: &'static [(usize, &'static str)],
}
