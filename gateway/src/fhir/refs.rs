//! References between resources. Trellis holds no demographics: clients
//! and clinicians are referenced by the clinic's own ids.

use serde_json::{Value, json};

pub(crate) fn reference(resource_type: &str, id: &str) -> Value {
    json!({ "reference": format!("{resource_type}/{id}") })
}

pub(crate) fn patient(client_id: &str) -> Value {
    reference("Patient", client_id)
}

pub(crate) fn practitioner(subject: &str) -> Value {
    reference("Practitioner", subject)
}

/// A FHIR `instant` for a day Trellis keeps only as a date: its start, UTC.
pub(crate) fn start_of(date: &str) -> String {
    format!("{date}T00:00:00Z")
}

/// Whether `id` is a valid FHIR logical id (`[A-Za-z0-9\-\.]{1,64}`).
pub(crate) fn is_fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// The id in `Type/id` (or a full URL ending so), if of that type.
pub(crate) fn id_in<'a>(reference: &'a str, resource_type: &str) -> Option<&'a str> {
    let mut parts = reference.rsplit('/');
    let id = parts.next()?;
    (parts.next()? == resource_type && is_fhir_id(id)).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_their_type() {
        assert_eq!(id_in("Patient/client-1", "Patient"), Some("client-1"));
        assert_eq!(
            id_in("https://x.example/fhir/r4/Patient/a.b", "Patient"),
            Some("a.b")
        );
        assert_eq!(id_in("Practitioner/client-1", "Patient"), None);
        assert_eq!(id_in("Patient/has space", "Patient"), None);
        assert!(!is_fhir_id(&"x".repeat(65)));
    }
}
