//! Each administered questionnaire as a QuestionnaireResponse (the
//! answers) and survey Observations derived from it: the panel, the total
//! with its severity band, and PHQ-9 item 9 on its own.

use serde_json::{Value, json};

use super::codes::{
    FREQUENCY_ANSWERS, InstrumentCodes, LOINC, OBSERVATION_CATEGORY, PHQ9_ITEM9, SEVERITY_BANDS,
    UCUM, band,
};
use super::plan_doc::{Measure, Owner};
use super::refs::{patient, practitioner, reference};

/// The naming system of Trellis's measure ids.
const MEASURE_IDS: &str = "https://trellis.health/fhir/NamingSystem/measure-id";

const US_CORE_SCREENING: &str =
    "http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-screening-assessment";

/// The Observation id of a measure's total.
pub(crate) fn total_id(measure_id: &str) -> String {
    format!("{measure_id}-total")
}

fn panel_id(measure_id: &str) -> String {
    format!("{measure_id}-panel")
}

fn item9_id(measure_id: &str) -> String {
    format!("{measure_id}-item9")
}

/// Who answered: the client for a self-report, else the clinician who
/// recorded it.
fn author(plan: Owner<'_>, measure: &Measure) -> Value {
    if measure.source == "CLIENT_SELF_REPORT" {
        patient(plan.client_id)
    } else {
        practitioner(&measure.recorded_by)
    }
}

/// Every resource of every measure of the plan.
pub(crate) fn measure_resources(plan: Owner<'_>) -> Vec<Value> {
    plan.measures
        .iter()
        .filter_map(|m| InstrumentCodes::named(&m.instrument).map(|i| (m, i)))
        .flat_map(|(m, i)| {
            let mut resources = vec![questionnaire_response(plan, m, i), panel(plan, m, i)];
            resources.push(total(plan, m, i));
            if let Some(item9) = item9(plan, m, i) {
                resources.push(item9);
            }
            resources
        })
        .collect()
}

/// The totals of one instrument (or of all), each with the date it was
/// administered: a score series.
pub(crate) fn totals<'a>(
    plan: Owner<'a>,
    only: Option<&'a InstrumentCodes>,
) -> impl Iterator<Item = (&'a str, Value)> + 'a {
    plan.measures.iter().filter_map(move |m| {
        let instrument = InstrumentCodes::named(&m.instrument)?;
        if only.is_some_and(|o| o.name != instrument.name) {
            return None;
        }
        Some((m.administered_on.as_str(), total(plan, m, instrument)))
    })
}

fn status(measure: &Measure) -> &'static str {
    if measure.entered_in_error.is_some() {
        "entered-in-error"
    } else {
        "final"
    }
}

fn answer(instrument: &InstrumentCodes, score: i64) -> Value {
    let coded = instrument
        .coded_answers
        .then(|| {
            FREQUENCY_ANSWERS
                .iter()
                .find(|a| i64::from(a.score) == score)
        })
        .flatten();
    match coded {
        Some(a) => {
            json!({ "valueCoding": { "system": LOINC, "code": a.code, "display": a.display } })
        }
        None => json!({ "valueInteger": score }),
    }
}

/// The resource a measure was recorded from, as exported: its
/// QuestionnaireResponse, or its total's Observation.
pub(crate) fn recorded_as(plan: Owner<'_>, m: &Measure, resource_type: &str) -> Option<Value> {
    let instrument = InstrumentCodes::named(&m.instrument)?;
    Some(if resource_type == "QuestionnaireResponse" {
        questionnaire_response(plan, m, instrument)
    } else {
        total(plan, m, instrument)
    })
}

fn questionnaire_response(plan: Owner<'_>, m: &Measure, instrument: &InstrumentCodes) -> Value {
    let mut items: Vec<Value> = m
        .answers
        .iter()
        .zip(instrument.items)
        .map(|(score, code)| json!({ "linkId": code, "answer": [answer(instrument, *score)] }))
        .collect();
    items.push(json!({
        "linkId": instrument.total,
        "answer": [{ "valueInteger": m.total }],
    }));
    let status = if m.entered_in_error.is_some() {
        "entered-in-error"
    } else {
        "completed"
    };
    json!({
        "resourceType": "QuestionnaireResponse",
        "id": m.id,
        "identifier": measure_identifier(m),
        "basedOn": [reference("CarePlan", plan.plan_id)],
        "questionnaire": instrument.questionnaire,
        "status": status,
        "subject": patient(plan.client_id),
        "authored": m.administered_on,
        "author": author(plan, m),
        "item": items,
    })
}

/// The measure's identifier: one administration, whether it arrives back
/// as its QuestionnaireResponse or its total's Observation.
fn measure_identifier(m: &Measure) -> Value {
    json!({ "system": MEASURE_IDS, "value": m.id })
}

fn survey(plan: Owner<'_>, m: &Measure, id: String, code: Value) -> Value {
    json!({
        "resourceType": "Observation",
        "id": id,
        "meta": { "profile": [US_CORE_SCREENING] },
        "basedOn": [reference("CarePlan", plan.plan_id)],
        "status": status(m),
        "category": [{ "coding": [{
            "system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey",
        }]}],
        "code": code,
        "subject": patient(plan.client_id),
        "effectiveDateTime": m.administered_on,
        "performer": [author(plan, m)],
        "derivedFrom": [reference("QuestionnaireResponse", &m.id)],
    })
}

fn coded(system: &str, code: &str, display: String) -> Value {
    json!({ "coding": [{ "system": system, "code": code, "display": display }], "text": display })
}

fn panel(plan: Owner<'_>, m: &Measure, instrument: &InstrumentCodes) -> Value {
    let code = coded(
        instrument.system,
        instrument.panel,
        instrument.title.to_owned(),
    );
    let mut resource = survey(plan, m, panel_id(&m.id), code);
    let mut members = vec![reference("Observation", &total_id(&m.id))];
    if item9(plan, m, instrument).is_some() {
        members.push(reference("Observation", &item9_id(&m.id)));
    }
    resource["hasMember"] = Value::Array(members);
    resource
}

fn total(plan: Owner<'_>, m: &Measure, instrument: &InstrumentCodes) -> Value {
    let code = coded(
        instrument.system,
        instrument.total,
        format!("{} total score", instrument.title),
    );
    let mut resource = survey(plan, m, total_id(&m.id), code);
    resource["identifier"] = json!([measure_identifier(m)]);
    resource["valueQuantity"] = json!({
        "value": m.total, "unit": "{score}", "system": UCUM, "code": "{score}",
    });
    if let Some((band_code, band_display)) = band(&m.band) {
        resource["interpretation"] =
            json!([coded(SEVERITY_BANDS, band_code, band_display.to_owned())]);
    }
    resource
}

/// PHQ-9 item 9, when it was answered: above 0 it raised a safety flag.
fn item9(plan: Owner<'_>, m: &Measure, instrument: &InstrumentCodes) -> Option<Value> {
    let index = instrument.item_index(PHQ9_ITEM9)?;
    let score = *m.answers.get(index)?;
    let code = coded(
        LOINC,
        PHQ9_ITEM9,
        "Thoughts that you would be better off dead, or of hurting yourself in some way".into(),
    );
    let mut resource = survey(plan, m, item9_id(&m.id), code);
    let coded_answer = FREQUENCY_ANSWERS
        .iter()
        .find(|a| i64::from(a.score) == score)?;
    resource["valueCodeableConcept"] = coded(LOINC, coded_answer.code, coded_answer.display.into());
    Some(resource)
}
