//! Questionnaire results arriving as FHIR: a QuestionnaireResponse (the
//! answers, item by item) or an Observation (a total) becomes the same
//! measure `RecordMeasure` records. Parsing is pure: every rule broken is
//! an issue naming the element, never echoing its value.

use serde_json::Value;
use uuid::Uuid;

use super::codes::{FREQUENCY_ANSWERS, InstrumentCodes};
use super::outcome::Issue;
use super::refs::id_in;

/// A measure as a FHIR resource described it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IncomingMeasure {
    pub(crate) instrument: &'static InstrumentCodes,
    /// Item answers in the instrument's order (empty: total only).
    pub(crate) answers: Vec<i64>,
    pub(crate) total: Option<i64>,
    pub(crate) administered_on: String,
    pub(crate) client_id: String,
    /// The plan named by `basedOn`, if any.
    pub(crate) plan_id: Option<String>,
    /// Whether the client answered (a Patient as source or performer).
    pub(crate) self_reported: bool,
    /// Stable for the resource's identifier: a retry records it once.
    pub(crate) measure_id: Uuid,
    /// The resource type it came as, for the answer.
    pub(crate) resource_type: &'static str,
}

/// Namespace of measure ids derived from FHIR identifiers.
const IDENTIFIER_NAMESPACE: Uuid = Uuid::from_u128(0x5b1f_0c4e_8a57_4d4b_9d0e_7c1a_2f60_b3e1);

fn invalid(rule: impl Into<String>, at: impl Into<String>) -> Issue {
    Issue::new("invalid", rule).at(at)
}

fn text<'a>(resource: &'a Value, path: &str) -> Option<&'a str> {
    path.split('.')
        .try_fold(resource, |v, key| v.get(key))
        .and_then(Value::as_str)
}

/// The resource's identifier as `system|value`.
fn identifier(resource: &Value, kind: &str, many: bool) -> Result<String, Issue> {
    let identifier = if many {
        resource.get("identifier").and_then(|i| i.get(0))
    } else {
        resource.get("identifier")
    };
    let value = identifier
        .and_then(|i| i.get("value"))
        .and_then(Value::as_str)
        .filter(|v| !v.trim().is_empty() && v.len() <= 256);
    let system = identifier
        .and_then(|i| i.get("system"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    match value {
        Some(value) if system.len() <= 256 => Ok(format!("{system}|{value}")),
        _ => Err(invalid(
            "an identifier (value up to 256 characters) is required, so that sending it again records the measure once",
            format!("{kind}.identifier"),
        )),
    }
}

/// The measure an identifier names for a client: the same for a
/// QuestionnaireResponse and an Observation of one administration
/// exported with one identifier; another client's is another measure.
fn measure_id(client_id: &str, identifier: &str) -> Uuid {
    Uuid::new_v5(
        &IDENTIFIER_NAMESPACE,
        format!("{client_id}\n{identifier}").as_bytes(),
    )
}

/// The largest total any instrument has is 80; anything far past it is
/// refused here, before it reaches the API's typed input.
const MAX_TOTAL: i64 = 1000;

fn subject(resource: &Value, kind: &str) -> Result<String, Issue> {
    text(resource, "subject.reference")
        .and_then(|r| id_in(r, "Patient"))
        .map(str::to_owned)
        .ok_or_else(|| {
            invalid(
                "subject must reference Patient/{the clinic's client id}",
                format!("{kind}.subject"),
            )
        })
}

fn based_on(resource: &Value, kind: &str) -> Result<Option<String>, Issue> {
    let Some(list) = resource.get("basedOn").and_then(Value::as_array) else {
        return Ok(None);
    };
    let plans: Vec<&str> = list
        .iter()
        .filter_map(|r| r.get("reference").and_then(Value::as_str))
        .filter_map(|r| id_in(r, "CarePlan"))
        .collect();
    match plans.as_slice() {
        [] => Ok(None),
        [plan] => Ok(Some((*plan).to_owned())),
        _ => Err(invalid(
            "basedOn may name one CarePlan",
            format!("{kind}.basedOn"),
        )),
    }
}

/// A date (`YYYY-MM-DD`) from a FHIR date or dateTime.
fn date(raw: Option<&str>, at: &str, what: &str) -> Result<String, Issue> {
    let day = raw
        .and_then(|r| r.get(..10))
        .filter(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok());
    day.map(str::to_owned)
        .ok_or_else(|| invalid(format!("{what} is required: a date or dateTime"), at))
}

/// What every measure resource says besides its answers: whose, which
/// plan, when, and under which identifier.
struct Envelope {
    identifier: String,
    client_id: String,
    plan_id: Option<String>,
    administered_on: String,
}

/// The envelope of a QuestionnaireResponse or Observation (`kind`), its
/// date taken from `date_element`; every rule broken goes to `issues`.
fn envelope(
    resource: &Value,
    kind: &'static str,
    date_element: &str,
    issues: &mut Vec<Issue>,
) -> Option<Envelope> {
    // An Observation may hold several identifiers, a QuestionnaireResponse one.
    let many = kind == "Observation";
    let identifier = identifier(resource, kind, many)
        .map_err(|e| issues.push(e))
        .ok();
    let client_id = subject(resource, kind).map_err(|e| issues.push(e)).ok();
    let plan_id = based_on(resource, kind)
        .map_err(|e| issues.push(e))
        .ok()
        .flatten();
    let administered_on = date(
        text(resource, date_element),
        &format!("{kind}.{date_element}"),
        date_element,
    )
    .map_err(|e| issues.push(e))
    .ok();
    Some(Envelope {
        identifier: identifier?,
        client_id: client_id?,
        plan_id,
        administered_on: administered_on?,
    })
}

impl Envelope {
    fn measure(
        self,
        instrument: &'static InstrumentCodes,
        answers: Vec<i64>,
        total: Option<i64>,
        self_reported: bool,
        resource_type: &'static str,
    ) -> IncomingMeasure {
        IncomingMeasure {
            instrument,
            answers,
            total,
            measure_id: measure_id(&self.client_id, &self.identifier),
            administered_on: self.administered_on,
            client_id: self.client_id,
            plan_id: self.plan_id,
            self_reported,
            resource_type,
        }
    }
}

fn is_patient(reference: Option<&str>) -> bool {
    reference.is_some_and(|r| id_in(r, "Patient").is_some())
}

/// A completed QuestionnaireResponse of the PHQ-9, GAD-7 or PSWQ.
pub(crate) fn questionnaire_response(resource: &Value) -> Result<IncomingMeasure, Vec<Issue>> {
    const KIND: &str = "QuestionnaireResponse";
    let mut issues = Vec::new();
    if resource.get("resourceType").and_then(Value::as_str) != Some(KIND) {
        return Err(vec![invalid(
            "the body must be a QuestionnaireResponse",
            "resourceType",
        )]);
    }
    let instrument = resource
        .get("questionnaire")
        .and_then(Value::as_str)
        .and_then(InstrumentCodes::of_questionnaire);
    let Some(instrument) = instrument else {
        return Err(vec![invalid(
            "questionnaire must be http://loinc.org/q/44249-1 (PHQ-9), http://loinc.org/q/69737-5 (GAD-7) or https://trellis.health/fhir/Questionnaire/pswq",
            "QuestionnaireResponse.questionnaire",
        )]);
    };
    if resource.get("status").and_then(Value::as_str) != Some("completed") {
        issues.push(invalid(
            "status must be completed: only finished questionnaires are scored",
            "QuestionnaireResponse.status",
        ));
    }
    let mut answers: Vec<Option<i64>> = vec![None; instrument.items.len()];
    let mut total = None;
    let items = resource
        .get("item")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    // Each item once, and the total: more is refused before any is read,
    // so a huge body cannot make a huge answer.
    if items.len() > instrument.items.len() + 1 {
        return Err(vec![invalid(
            format!(
                "the {} has {} items and a total: at most {} items",
                instrument.title,
                instrument.items.len(),
                instrument.items.len() + 1
            ),
            "QuestionnaireResponse.item",
        )]);
    }
    for (n, item) in items.iter().enumerate() {
        let at = format!("QuestionnaireResponse.item[{n}]");
        let link = item
            .get("linkId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let answer = item.get("answer").and_then(|a| a.get(0));
        let score = answer.and_then(|a| score_of(instrument, a));
        if link == instrument.total {
            match answer
                .and_then(|a| a.get("valueInteger"))
                .and_then(Value::as_i64)
            {
                Some(t) => total = Some(t),
                None => issues.push(invalid(
                    "the total's answer must be a valueInteger from 0",
                    format!("{at}.answer[0]"),
                )),
            }
            continue;
        }
        let Some(index) = instrument.item_index(link) else {
            issues.push(invalid(
                format!(
                    "linkId must be one of the {} item codes or its total",
                    instrument.title
                ),
                format!("{at}.linkId"),
            ));
            continue;
        };
        match score {
            Some(score) if answers[index].is_none() => answers[index] = Some(score),
            Some(_) => issues.push(invalid("an item is answered once", format!("{at}.linkId"))),
            None => issues.push(invalid(
                if instrument.coded_answers {
                    "each answer is a valueCoding from LOINC's answer list LL358-3 (LA6568-5 … LA6571-9) or a valueInteger 0-3"
                } else {
                    "each answer is a valueInteger 1-5"
                },
                format!("{at}.answer[0]"),
            )),
        }
    }
    let answered: Vec<i64> = answers.iter().flatten().copied().collect();
    let answers = if answered.is_empty() {
        Vec::new()
    } else if answered.len() == instrument.items.len() {
        answered
    } else {
        issues.push(invalid(
            format!(
                "answer every item of the {} ({} items), or give only the total",
                instrument.title,
                instrument.items.len()
            ),
            "QuestionnaireResponse.item",
        ));
        Vec::new()
    };
    if answers.is_empty() && total.is_none() && issues.is_empty() {
        issues.push(invalid(
            "give the item answers or the total",
            "QuestionnaireResponse.item",
        ));
    }
    let envelope = envelope(resource, KIND, "authored", &mut issues);
    let self_reported = is_patient(text(resource, "source.reference"))
        || is_patient(text(resource, "author.reference"));
    match envelope {
        Some(envelope) if issues.is_empty() => {
            Ok(envelope.measure(instrument, answers, total, self_reported, KIND))
        }
        _ => Err(issues),
    }
}

/// An item's answer as its score: a valueInteger in range, or one of the
/// LOINC frequency answers for the PHQ-9 and GAD-7.
fn score_of(instrument: &InstrumentCodes, answer: &Value) -> Option<i64> {
    let (low, high) = instrument.answer_range;
    if let Some(n) = answer.get("valueInteger").and_then(Value::as_i64) {
        return (i64::from(low)..=i64::from(high)).contains(&n).then_some(n);
    }
    if !instrument.coded_answers {
        return None;
    }
    let coding = answer.get("valueCoding")?;
    let code = coding.get("code").and_then(Value::as_str)?;
    let system = coding.get("system").and_then(Value::as_str);
    if system.is_some_and(|s| s != super::codes::LOINC) {
        return None;
    }
    FREQUENCY_ANSWERS
        .iter()
        .find(|a| a.code == code)
        .map(|a| i64::from(a.score))
}

/// A final Observation of a questionnaire's total.
pub(crate) fn observation(resource: &Value) -> Result<IncomingMeasure, Vec<Issue>> {
    const KIND: &str = "Observation";
    let mut issues = Vec::new();
    if resource.get("resourceType").and_then(Value::as_str) != Some(KIND) {
        return Err(vec![invalid(
            "the body must be an Observation",
            "resourceType",
        )]);
    }
    let codings = resource
        .get("code")
        .and_then(|c| c.get("coding"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let instrument = codings.iter().find_map(|c| {
        InstrumentCodes::of_total(
            c.get("system").and_then(Value::as_str).unwrap_or_default(),
            c.get("code").and_then(Value::as_str).unwrap_or_default(),
        )
    });
    let Some(instrument) = instrument else {
        return Err(vec![invalid(
            "code must be a questionnaire total: LOINC 44261-6 (PHQ-9), LOINC 70274-6 (GAD-7) or pswq-total in https://trellis.health/fhir/CodeSystem/instruments",
            "Observation.code",
        )]);
    };
    if !matches!(
        resource.get("status").and_then(Value::as_str),
        Some("final" | "amended" | "corrected")
    ) {
        issues.push(invalid(
            "status must be final (or amended, corrected)",
            "Observation.status",
        ));
    }
    let total = resource
        .get("valueQuantity")
        .and_then(|q| q.get("value"))
        .or_else(|| resource.get("valueInteger"))
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
        })
        .filter(|t| (0..=MAX_TOTAL).contains(t));
    if total.is_none() {
        issues.push(invalid(
            "the total is a valueQuantity (unit {score}) or valueInteger, a whole number from 0",
            "Observation.value[x]",
        ));
    }
    let envelope = envelope(resource, KIND, "effectiveDateTime", &mut issues);
    let performer_is_client = resource
        .get("performer")
        .and_then(Value::as_array)
        .is_some_and(|p| {
            p.iter()
                .any(|r| is_patient(r.get("reference").and_then(Value::as_str)))
        });
    match (envelope, total) {
        (Some(envelope), Some(total)) if issues.is_empty() => Ok(envelope.measure(
            instrument,
            Vec::new(),
            Some(total),
            performer_is_client,
            KIND,
        )),
        _ => Err(issues),
    }
}

#[cfg(test)]
mod tests;
