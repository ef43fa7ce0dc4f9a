//! The API's enum values in the words clinicians read, shared by the
//! console, the payer document and the FHIR narrative.

/// `SHORT_TERM` → "short term", `ON_HOLD` → "on hold".
pub(crate) fn words(wire: &str) -> String {
    wire.to_ascii_lowercase().replace('_', " ")
}

/// `CBT` → "CBT", `BEHAVIOURAL_ACTIVATION` → "Behavioural activation".
pub(crate) fn modality_label(wire: &str) -> String {
    match wire {
        "CBT" | "DBT" | "ACT" | "MBSR" => wire.to_owned(),
        _ => {
            let mut text = words(wire);
            if let Some(first) = text.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_values_read_as_words() {
        assert_eq!(words("MODERATELY_SEVERE"), "moderately severe");
        assert_eq!(modality_label("CBT"), "CBT");
        assert_eq!(modality_label("SLEEP_HYGIENE"), "Sleep hygiene");
    }
}
