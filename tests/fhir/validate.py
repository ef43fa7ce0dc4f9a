"""Validates Trellis's FHIR output independently of Trellis's code.

Each argument is a JSON file holding a resource or a Bundle. Every resource
(and every Bundle entry's) is parsed by fhir.resources' R4B models, which
refuse unknown elements, wrong types and missing required elements; on top
of that this script checks what those models leave out: the required code
bindings of the elements Trellis fills, references inside a Bundle that
must resolve, the narrative being well-formed XHTML, and the US Core
must-support elements of the profiles each resource claims.

Prints one line per problem and exits 1 if there is any; else prints
`ok: N resources`.
"""

import json
import re
import sys
import xml.etree.ElementTree as ET

from fhir.resources.R4B import get_fhir_model_class

FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")

# Required bindings (FHIR R4) of the coded elements Trellis sends.
REQUIRED_CODES = {
    ("CarePlan", "status"): {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
    ("CarePlan", "intent"): {"proposal", "plan", "order", "option"},
    ("Goal", "lifecycleStatus"): {"proposed", "planned", "accepted", "active", "on-hold", "completed", "cancelled", "entered-in-error", "rejected"},
    ("Observation", "status"): {"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"},
    ("QuestionnaireResponse", "status"): {"in-progress", "completed", "amended", "entered-in-error", "stopped"},
    ("Consent", "status"): {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"},
    ("AuditEvent", "action"): {"C", "R", "U", "D", "E"},
    ("AuditEvent", "outcome"): {"0", "4", "8", "12"},
    ("Bundle", "type"): {"document", "message", "transaction", "transaction-response", "batch", "batch-response", "history", "searchset", "collection"},
}
ACTIVITY_STATUS = {"not-started", "scheduled", "in-progress", "on-hold", "completed", "cancelled", "stopped", "unknown", "entered-in-error"}
CONDITION_CLINICAL = {"active", "recurrence", "relapse", "inactive", "remission", "resolved"}
CONDITION_VERIFICATION = {"unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"}

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"


def codes(concept):
    return {c.get("code") for c in (concept or {}).get("coding", [])}


def profiles(resource):
    return set(resource.get("meta", {}).get("profile", []))


def must_support(resource, problems, where):
    """The US Core must-support elements of the profile the resource claims."""
    kind = resource["resourceType"]
    claimed = profiles(resource)

    def need(condition, what):
        if not condition:
            problems.append(f"{where}: US Core {kind} must support {what}")

    if US_CORE + "us-core-careplan" in claimed:
        text = resource.get("text", {})
        need(text.get("status") in {"generated", "extensions", "additional", "empty"}, "text.status")
        need(text.get("div"), "text.div")
        need(any("assess-plan" in codes(c) for c in resource.get("category", [])), "category assess-plan")
        need(resource.get("subject", {}).get("reference", "").startswith("Patient/"), "subject (a Patient)")
    if US_CORE + "us-core-condition-problems-health-concerns" in claimed:
        entered_in_error = "entered-in-error" in codes(resource.get("verificationStatus"))
        need(entered_in_error or resource.get("clinicalStatus"), "clinicalStatus")
        need(resource.get("category"), "category")
        need(resource.get("code", {}).get("coding"), "code")
        need(resource.get("subject"), "subject")
        for c in resource.get("clinicalStatus", {}).get("coding", []):
            need(c.get("code") in CONDITION_CLINICAL, "a clinicalStatus from condition-clinical")
        for c in resource.get("verificationStatus", {}).get("coding", []):
            need(c.get("code") in CONDITION_VERIFICATION, "a verificationStatus from condition-ver-status")
        need(not (entered_in_error and resource.get("clinicalStatus")), "no clinicalStatus when entered in error (con-5)")
    if US_CORE + "us-core-goal" in claimed:
        need(resource.get("lifecycleStatus"), "lifecycleStatus")
        need(resource.get("description", {}).get("text"), "description")
        need(resource.get("subject"), "subject")
        due = any(t.get("dueDate") for t in resource.get("target", []))
        need(due or resource.get("startDate"), "target.dueDate or startDate")
        for t in resource.get("target", []):
            detail = any(k.startswith("detail") for k in t)
            need(not detail or t.get("measure"), "target.measure with a target.detail (gol-1)")
    if US_CORE + "us-core-observation-screening-assessment" in claimed:
        need(resource.get("status"), "status")
        need(any("survey" in codes(c) for c in resource.get("category", [])), "category survey")
        need(resource.get("code"), "code")
        need(resource.get("subject"), "subject")
        need(any(k.startswith("effective") for k in resource), "effective[x]")
        has_value = any(k.startswith("value") for k in resource)
        need(has_value or resource.get("hasMember"), "value[x] or hasMember")
        need(resource.get("derivedFrom"), "derivedFrom (its QuestionnaireResponse)")


def check_resource(resource, problems, where):
    kind = resource.get("resourceType")
    try:
        get_fhir_model_class(kind).model_validate(resource)
    except Exception as error:  # the model's message names element and rule
        problems.append(f"{where}: not valid FHIR {kind}: {error}")
        return
    if "id" in resource and not FHIR_ID.match(resource["id"]):
        problems.append(f"{where}: id is not a FHIR id")
    for (k, element), allowed in REQUIRED_CODES.items():
        if kind == k and element in resource and resource[element] not in allowed:
            problems.append(f"{where}: {kind}.{element} is not from its required value set")
    if kind == "CarePlan":
        for n, activity in enumerate(resource.get("activity", [])):
            status = activity.get("detail", {}).get("status")
            if status not in ACTIVITY_STATUS:
                problems.append(f"{where}: CarePlan.activity[{n}].detail.status is not from its value set")
    div = resource.get("text", {}).get("div")
    if div:
        try:
            root = ET.fromstring(div)
            if root.tag != "{http://www.w3.org/1999/xhtml}div":
                problems.append(f"{where}: the narrative is not an XHTML div")
        except ET.ParseError as error:
            problems.append(f"{where}: the narrative is not well-formed XHTML: {error}")
    must_support(resource, problems, where)


def references(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "reference" and isinstance(inner, str):
                yield inner
            else:
                yield from references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from references(inner)


def check_bundle(bundle, problems, where):
    entries = bundle.get("entry", [])
    full_urls = [e.get("fullUrl") for e in entries if e.get("fullUrl")]
    if len(full_urls) != len(set(full_urls)):
        problems.append(f"{where}: fullUrl repeated in the Bundle")
    held = {f'{e["resource"]["resourceType"]}/{e["resource"]["id"]}' for e in entries if "resource" in e}
    for n, entry in enumerate(entries):
        resource = entry.get("resource")
        if resource is None:
            continue
        check_resource(resource, problems, f"{where} entry[{n}] {resource.get('resourceType')}")
        if bundle.get("type") == "collection":
            # Inside a plan's bundle every reference to a resource Trellis
            # makes must resolve; Patient, Practitioner and Organization are
            # the clinic's own ids (Trellis holds no demographics).
            for ref in references(resource):
                kind = ref.split("/")[0]
                if kind in {"Patient", "Practitioner", "Organization"}:
                    continue
                if "/_history/" in ref:
                    ref = ref.split("/_history/")[0]
                if ref not in held:
                    problems.append(f"{where} entry[{n}]: reference {ref} does not resolve in the Bundle")


def main(paths):
    problems = []
    count = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
        check_resource(document, problems, path)
        if document.get("resourceType") == "Bundle":
            check_bundle(document, problems, path)
            count += len(document.get("entry", []))
        count += 1
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"ok: {count} resources")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
