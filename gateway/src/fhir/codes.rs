//! The code systems and codes the FHIR API speaks: LOINC for PHQ-9 and
//! GAD-7, Trellis's own code system for the PSWQ (LOINC has none) and for
//! severity bands.

/// LOINC.
pub(crate) const LOINC: &str = "http://loinc.org";
/// ICD-10-CM, the diagnoses' code system.
pub(crate) const ICD10CM: &str = "http://hl7.org/fhir/sid/icd-10-cm";
/// Trellis's code system for the PSWQ's panel, total and items.
pub(crate) const INSTRUMENTS: &str = "https://trellis.health/fhir/CodeSystem/instruments";
/// Trellis's code system for an instrument's severity bands.
pub(crate) const SEVERITY_BANDS: &str = "https://trellis.health/fhir/CodeSystem/severity-bands";
/// UCUM, for the `{score}` unit of totals.
pub(crate) const UCUM: &str = "http://unitsofmeasure.org";
/// Observation categories (`survey`).
pub(crate) const OBSERVATION_CATEGORY: &str =
    "http://terminology.hl7.org/CodeSystem/observation-category";

/// One answer of the PHQ-9's and GAD-7's shared LOINC answer list
/// (LL358-3): code, display, score.
#[derive(Debug, PartialEq)]
pub(crate) struct Answer {
    pub(crate) code: &'static str,
    pub(crate) display: &'static str,
    pub(crate) score: u8,
}

/// "Over the last 2 weeks, how often…": the PHQ-9's and GAD-7's answers.
pub(crate) const FREQUENCY_ANSWERS: [Answer; 4] = [
    Answer {
        code: "LA6568-5",
        display: "Not at all",
        score: 0,
    },
    Answer {
        code: "LA6569-3",
        display: "Several days",
        score: 1,
    },
    Answer {
        code: "LA6570-1",
        display: "More than half the days",
        score: 2,
    },
    Answer {
        code: "LA6571-9",
        display: "Nearly every day",
        score: 3,
    },
];

/// How one instrument is coded.
#[derive(Debug, PartialEq)]
pub(crate) struct InstrumentCodes {
    /// The GraphQL enum value (`PHQ9`, …).
    pub(crate) name: &'static str,
    /// Its display name.
    pub(crate) title: &'static str,
    /// The code system of the panel, total and items.
    pub(crate) system: &'static str,
    pub(crate) panel: &'static str,
    pub(crate) total: &'static str,
    /// Item codes in the instrument's order.
    pub(crate) items: &'static [&'static str],
    /// The questionnaire's canonical URL.
    pub(crate) questionnaire: &'static str,
    /// Whether answers are the LOINC frequency list (else integers).
    pub(crate) coded_answers: bool,
    /// The lowest and highest answer an item takes.
    pub(crate) answer_range: (u8, u8),
}

pub(crate) const PHQ9: InstrumentCodes = InstrumentCodes {
    name: "PHQ9",
    title: "PHQ-9",
    system: LOINC,
    panel: "44249-1",
    total: "44261-6",
    items: &[
        "44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3",
        "44260-8",
    ],
    questionnaire: "http://loinc.org/q/44249-1",
    coded_answers: true,
    answer_range: (0, 3),
};

/// PHQ-9 item 9 (thoughts of being better off dead or of self-harm): its
/// own Observation, since any answer above 0 raises a safety flag.
pub(crate) const PHQ9_ITEM9: &str = "44260-8";

pub(crate) const GAD7: InstrumentCodes = InstrumentCodes {
    name: "GAD7",
    title: "GAD-7",
    system: LOINC,
    panel: "69737-5",
    total: "70274-6",
    items: &[
        "69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7",
    ],
    questionnaire: "http://loinc.org/q/69737-5",
    coded_answers: true,
    answer_range: (0, 3),
};

pub(crate) const PSWQ: InstrumentCodes = InstrumentCodes {
    name: "PSWQ",
    title: "Penn State Worry Questionnaire (PSWQ)",
    system: INSTRUMENTS,
    panel: "pswq",
    total: "pswq-total",
    items: &[
        "pswq-1", "pswq-2", "pswq-3", "pswq-4", "pswq-5", "pswq-6", "pswq-7", "pswq-8", "pswq-9",
        "pswq-10", "pswq-11", "pswq-12", "pswq-13", "pswq-14", "pswq-15", "pswq-16",
    ],
    questionnaire: "https://trellis.health/fhir/Questionnaire/pswq",
    coded_answers: false,
    answer_range: (1, 5),
};

pub(crate) const INSTRUMENTS_CODED: [&InstrumentCodes; 3] = [&PHQ9, &GAD7, &PSWQ];

impl InstrumentCodes {
    /// The instrument of a GraphQL enum value.
    pub(crate) fn named(name: &str) -> Option<&'static InstrumentCodes> {
        INSTRUMENTS_CODED.into_iter().find(|i| i.name == name)
    }

    /// The instrument whose questionnaire this canonical URL names
    /// (a `|version` suffix is ignored).
    pub(crate) fn of_questionnaire(canonical: &str) -> Option<&'static InstrumentCodes> {
        let url = canonical.split('|').next().unwrap_or_default();
        INSTRUMENTS_CODED
            .into_iter()
            .find(|i| i.questionnaire == url)
    }

    /// The instrument whose total this coding is.
    pub(crate) fn of_total(system: &str, code: &str) -> Option<&'static InstrumentCodes> {
        INSTRUMENTS_CODED
            .into_iter()
            .find(|i| i.system == system && i.total == code)
    }

    /// Where an item code stands in the instrument (0-based).
    pub(crate) fn item_index(&self, code: &str) -> Option<usize> {
        self.items.iter().position(|c| *c == code)
    }
}

/// A severity band's code and display in Trellis's band code system.
pub(crate) fn band(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "MINIMAL" => ("minimal", "Minimal"),
        "MILD" => ("mild", "Mild"),
        "MODERATE" => ("moderate", "Moderate"),
        "MODERATELY_SEVERE" => ("moderately-severe", "Moderately severe"),
        "SEVERE" => ("severe", "Severe"),
        "LOW" => ("low", "Low"),
        "HIGH" => ("high", "High"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_counts_match_the_instruments() {
        assert_eq!(PHQ9.items.len(), 9);
        assert_eq!(GAD7.items.len(), 7);
        assert_eq!(PSWQ.items.len(), 16);
        assert_eq!(PHQ9.item_index(PHQ9_ITEM9), Some(8));
    }

    #[test]
    fn instruments_are_found_by_questionnaire_and_total() {
        let phq9 = InstrumentCodes::of_questionnaire("http://loinc.org/q/44249-1|2.74");
        assert_eq!(phq9.map(|i| i.name), Some("PHQ9"));
        let gad7 = InstrumentCodes::of_total(LOINC, "70274-6");
        assert_eq!(gad7.map(|i| i.name), Some("GAD7"));
        assert!(InstrumentCodes::of_total(INSTRUMENTS, "44261-6").is_none());
    }
}
