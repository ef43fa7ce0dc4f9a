//! The plan page's forms: record a questionnaire item by item (or its
//! total), record progress on an objective, hold a review, sign, and
//! acknowledge a safety flag. Each sends the same command a GraphQL client
//! would; a refusal shows the API's own message beside the form.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use trellis_auth::Role;
use trellis_plans_domain::Instrument;

use super::filters::instrument_of;
use super::forms::FormError;
use super::graphql::{Failure, Visit};
use super::pages::forged;
use super::plan::{Which, render};
use super::state::Console;

/// A form of the plan page and the command it sends.
pub(crate) trait PlanForm: DeserializeOwned + Send + 'static {
    /// The label in metrics and spans, the mutation, its input type.
    const COMMAND: (&'static str, &'static str, &'static str);

    /// The session's CSRF token, as the form carried it.
    fn csrf(&self) -> &str;

    /// The form's element id on the page: where a refusal is shown.
    fn anchor(&self) -> String;

    /// The mutation's input; `self_report` when a client sends it.
    fn input(&self, plan_id: &str, self_report: bool) -> Result<Value, Failure>;

    /// What the form shows again when refused.
    fn sent(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// Checks the session and the form's token, sends the command, and
/// answers with the plan page: after a redirect when it was accepted, with
/// the refusal beside the form when not.
pub(crate) async fn send<F: PlanForm>(
    State(console): State<Console>,
    visit: Visit,
    Path(plan_id): Path<String>,
    Form(form): Form<F>,
) -> Response {
    if !visit.session.accepts(form.csrf()) {
        return forged(&visit);
    }
    let caller = &visit.session.caller;
    let self_report = caller.has_role(Role::Client) && !caller.has_role(Role::Clinician);
    let (label, field, input_type) = F::COMMAND;
    let result = match form.input(&plan_id, self_report) {
        Ok(input) => {
            console
                .command(&visit, label, field, input_type, &plan_id, input)
                .await
        }
        Err(failure) => Err(failure),
    };
    match result {
        Ok(_) => Redirect::to(&format!(
            "/console/plans/{}?saved=1#{}",
            urlencoded(&plan_id),
            form.anchor()
        ))
        .into_response(),
        Err(failure) => {
            let error = FormError {
                form: form.anchor(),
                message: failure.message,
                violations: failure.violations,
                sent: form.sent(),
            };
            render(&console, &visit, &plan_id, Which::Current, Some(error), "").await
        }
    }
}

/// A plan id in a path: ids are ours, but never trust one to be tidy.
fn urlencoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn source(self_report: bool) -> &'static str {
    if self_report {
        "CLIENT_SELF_REPORT"
    } else {
        "CLINICIAN"
    }
}

/// An optional text: left out when blank.
fn optional(text: &str) -> Option<&str> {
    let text = text.trim();
    (!text.is_empty()).then_some(text)
}

/// A questionnaire's answers as posted: one `itemN` per answered item,
/// or the total alone.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(crate) struct MeasureAnswers(Vec<(String, String)>);

impl MeasureAnswers {
    fn field(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }
}

impl PlanForm for MeasureAnswers {
    const COMMAND: (&'static str, &'static str, &'static str) =
        ("record-measure", "recordMeasure", "RecordMeasureInput");

    fn csrf(&self) -> &str {
        self.field("csrf")
    }

    fn anchor(&self) -> String {
        format!("record-{}", self.field("instrument").to_ascii_lowercase())
    }

    /// The answers given, item by item (partly answered forms go as they
    /// are: the API says what is missing), or the total alone.
    fn input(&self, plan_id: &str, self_report: bool) -> Result<Value, Failure> {
        let instrument = instrument_of(self.field("instrument"))
            .ok_or_else(|| Failure::new("BAD_USER_INPUT", "choose PHQ-9, GAD-7 or PSWQ"))?;
        let mut given: Vec<i64> = Vec::new();
        for item in 1..=instrument.items() {
            let raw = self.field(&format!("item{item}"));
            if !raw.is_empty() {
                given.push(raw.parse().map_err(|_| {
                    Failure::new("BAD_USER_INPUT", "each answer is one of the listed choices")
                })?);
            }
        }
        let total = match self.field("total") {
            "" => None,
            raw => Some(
                raw.parse::<i64>()
                    .map_err(|_| Failure::new("BAD_USER_INPUT", "the total is a whole number"))?,
            ),
        };
        if given.is_empty() && total.is_none() {
            return Err(Failure::new(
                "BAD_USER_INPUT",
                "answer every item, or give the total when only that is known",
            ));
        }
        let wire = match instrument {
            Instrument::Phq9 => "PHQ9",
            Instrument::Gad7 => "GAD7",
            Instrument::Pswq => "PSWQ",
        };
        Ok(json!({
            "commandId": self.field("command_id"),
            "planId": plan_id,
            "instrument": wire,
            "answers": given,
            "total": total,
            "administeredOn": self.field("administered_on"),
            "source": source(self_report),
        }))
    }

    fn sent(&self) -> Vec<(String, String)> {
        self.0.clone()
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ProgressEntry {
    csrf: String,
    command_id: String,
    objective_id: String,
    value: String,
    observed_on: String,
    #[serde(default)]
    note: String,
}

impl PlanForm for ProgressEntry {
    const COMMAND: (&'static str, &'static str, &'static str) = (
        "record-progress",
        "recordObjectiveProgress",
        "RecordObjectiveProgressInput",
    );

    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn anchor(&self) -> String {
        format!("progress-{}", self.objective_id)
    }

    fn input(&self, plan_id: &str, self_report: bool) -> Result<Value, Failure> {
        let value =
            self.value.trim().parse::<f64>().map_err(|_| {
                Failure::new("BAD_USER_INPUT", "the value is a number, e.g. 3 or 2.5")
            })?;
        Ok(json!({
            "commandId": self.command_id,
            "planId": plan_id,
            "objectiveId": self.objective_id,
            "value": value,
            "observedOn": self.observed_on,
            "source": source(self_report),
            "note": optional(&self.note),
        }))
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Signing {
    csrf: String,
    command_id: String,
    role: String,
}

impl PlanForm for Signing {
    const COMMAND: (&'static str, &'static str, &'static str) =
        ("sign", "signPlan", "SignPlanInput");

    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn anchor(&self) -> String {
        "sign".into()
    }

    fn input(&self, plan_id: &str, _: bool) -> Result<Value, Failure> {
        Ok(json!({ "commandId": self.command_id, "planId": plan_id, "role": self.role }))
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReviewHeld {
    csrf: String,
    command_id: String,
    review_id: String,
    held_on: String,
    participants: String,
    summary: String,
    decision: String,
}

impl PlanForm for ReviewHeld {
    const COMMAND: (&'static str, &'static str, &'static str) =
        ("hold-review", "holdReview", "HoldReviewInput");

    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn anchor(&self) -> String {
        "review".into()
    }

    fn input(&self, plan_id: &str, _: bool) -> Result<Value, Failure> {
        let participants: Vec<&str> = self.participants.split(',').filter_map(optional).collect();
        Ok(json!({
            "commandId": self.command_id,
            "planId": plan_id,
            "reviewId": self.review_id,
            "heldOn": self.held_on,
            "participants": participants,
            "summary": self.summary.trim(),
            "decision": self.decision,
        }))
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct FlagAcknowledgement {
    csrf: String,
    command_id: String,
    flag_id: String,
    #[serde(default)]
    note: String,
}

impl PlanForm for FlagAcknowledgement {
    const COMMAND: (&'static str, &'static str, &'static str) = (
        "acknowledge-flag",
        "acknowledgeSafetyFlag",
        "AcknowledgeSafetyFlagInput",
    );

    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn anchor(&self) -> String {
        format!("flag-{}", self.flag_id)
    }

    fn input(&self, plan_id: &str, _: bool) -> Result<Value, Failure> {
        Ok(json!({
            "commandId": self.command_id,
            "planId": plan_id,
            "flagId": self.flag_id,
            "note": optional(&self.note),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> MeasureAnswers {
        MeasureAnswers(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn a_fully_answered_phq9_sends_every_answer_in_order() {
        let mut pairs = vec![("instrument", "PHQ9"), ("administered_on", "2026-01-02")];
        let answers = ["1", "2", "0", "3", "1", "0", "2", "1", "0"];
        let names: Vec<String> = (1..=9).map(|i| format!("item{i}")).collect();
        for (name, answer) in names.iter().zip(answers) {
            pairs.push((name, answer));
        }
        let input = form(&pairs).input("p-1", false).unwrap();
        assert_eq!(
            input["answers"],
            serde_json::json!([1, 2, 0, 3, 1, 0, 2, 1, 0])
        );
        assert_eq!(input["total"], serde_json::Value::Null);
        assert_eq!(input["source"], "CLINICIAN");
    }

    #[test]
    fn a_total_alone_is_sent_without_answers() {
        let input = form(&[("instrument", "PSWQ"), ("total", "61")])
            .input("p-1", true)
            .unwrap();
        assert_eq!(input["answers"], serde_json::json!([]));
        assert_eq!(input["total"], 61);
        assert_eq!(input["source"], "CLIENT_SELF_REPORT");
    }

    #[test]
    fn an_empty_form_is_refused_with_the_rule() {
        let refused = form(&[("instrument", "GAD7")])
            .input("p-1", false)
            .unwrap_err();
        assert!(refused.message.contains("answer every item"), "{refused:?}");
        let unknown = form(&[("instrument", "X")])
            .input("p-1", false)
            .unwrap_err();
        assert!(!unknown.message.contains('X'), "never echoes the value");
    }
}
