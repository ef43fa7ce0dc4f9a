use serde_json::json;

use super::*;

fn phq9_response() -> Value {
    let items: Vec<Value> = super::super::codes::PHQ9
        .items
        .iter()
        .enumerate()
        .map(|(n, code)| {
            // Coded and integer answers may mix.
            let answer = if n % 2 == 0 {
                json!({ "valueCoding": { "system": "http://loinc.org", "code": "LA6570-1" } })
            } else {
                json!({ "valueInteger": 1 })
            };
            json!({ "linkId": code, "answer": [answer] })
        })
        .collect();
    json!({
        "resourceType": "QuestionnaireResponse",
        "identifier": { "system": "urn:ehr", "value": "qr-1" },
        "questionnaire": "http://loinc.org/q/44249-1",
        "status": "completed",
        "subject": { "reference": "Patient/client-1" },
        "authored": "2026-11-30T09:15:00-05:00",
        "item": items,
    })
}

fn expressions(issues: &[Issue]) -> Vec<&str> {
    issues
        .iter()
        .filter_map(|i| i.expression.as_deref())
        .collect()
}

#[test]
fn a_questionnaire_response_becomes_the_answers_in_the_instrument_order() {
    let mut resource = phq9_response();
    // Items may come in any order.
    resource["item"].as_array_mut().unwrap().reverse();
    let measure = questionnaire_response(&resource).unwrap();
    assert_eq!(measure.instrument.name, "PHQ9");
    assert_eq!(measure.answers, [2, 1, 2, 1, 2, 1, 2, 1, 2]);
    assert_eq!(measure.administered_on, "2026-11-30");
    assert_eq!(measure.client_id, "client-1");
    assert!(!measure.self_reported);
    // The identifier decides the measure id: stable across retries.
    assert_eq!(
        measure.measure_id,
        questionnaire_response(&phq9_response()).unwrap().measure_id
    );
}

#[test]
fn a_total_alone_is_enough() {
    let mut resource = phq9_response();
    resource["item"] = json!([{ "linkId": "44261-6", "answer": [{ "valueInteger": 14 }] }]);
    resource["source"] = json!({ "reference": "Patient/client-1" });
    let measure = questionnaire_response(&resource).unwrap();
    assert!(measure.answers.is_empty());
    assert_eq!(measure.total, Some(14));
    assert!(measure.self_reported);
}

#[test]
fn every_broken_rule_is_named_without_the_value() {
    let mut resource = phq9_response();
    resource["item"][0]["linkId"] = json!("PRIVATE-WORDS");
    resource["item"][1]["answer"] = json!([{ "valueInteger": 9 }]);
    resource.as_object_mut().unwrap().remove("identifier");
    resource["status"] = json!("in-progress");
    let issues = questionnaire_response(&resource).unwrap_err();
    let at = expressions(&issues);
    for expected in [
        "QuestionnaireResponse.item[0].linkId",
        "QuestionnaireResponse.item[1].answer[0]",
        "QuestionnaireResponse.identifier",
        "QuestionnaireResponse.status",
    ] {
        assert!(at.contains(&expected), "{expected} in {at:?}");
    }
    assert!(issues.iter().all(|i| !i.diagnostics.contains("PRIVATE")));
}

#[test]
fn an_unknown_questionnaire_is_refused() {
    let mut resource = phq9_response();
    resource["questionnaire"] = json!("http://example.org/q/other");
    let issues = questionnaire_response(&resource).unwrap_err();
    assert_eq!(
        expressions(&issues),
        ["QuestionnaireResponse.questionnaire"]
    );
}

fn gad7_total(value: Value) -> Value {
    json!({
        "resourceType": "Observation",
        "identifier": [{ "system": "urn:ehr", "value": "obs-1" }],
        "status": "final",
        "code": { "coding": [{ "system": "http://loinc.org", "code": "70274-6" }] },
        "subject": { "reference": "Patient/client-1" },
        "effectiveDateTime": "2026-11-30",
        "valueQuantity": { "value": value, "unit": "{score}" },
        "basedOn": [{ "reference": "CarePlan/plan-1" }],
    })
}

#[test]
fn an_observation_of_a_total_becomes_a_measure() {
    let measure = observation(&gad7_total(json!(9))).unwrap();
    assert_eq!(measure.instrument.name, "GAD7");
    assert_eq!(measure.total, Some(9));
    assert_eq!(measure.plan_id.as_deref(), Some("plan-1"));
    let whole = observation(&gad7_total(json!(9.0))).unwrap();
    assert_eq!(whole.total, Some(9));
}

#[test]
fn an_observation_must_be_a_whole_total_of_a_known_code() {
    let issues = observation(&gad7_total(json!(9.5))).unwrap_err();
    assert_eq!(expressions(&issues), ["Observation.value[x]"]);
    let mut item = gad7_total(json!(1));
    item["code"]["coding"][0]["code"] = json!("69725-0");
    let issues = observation(&item).unwrap_err();
    assert_eq!(expressions(&issues), ["Observation.code"]);
    let mut foreign = gad7_total(json!(3));
    foreign["subject"] = json!({ "reference": "Group/g-1" });
    let issues = observation(&foreign).unwrap_err();
    assert_eq!(expressions(&issues), ["Observation.subject"]);
}
