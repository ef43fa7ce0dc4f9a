//! Template filters: the API's enum values in the words clinicians use.

use std::fmt::Display;

use trellis_plans_domain::Instrument;

use crate::wording::{modality_label, words};

/// `SHORT_TERM` → "short term", `ON_HOLD` → "on hold".
#[askama::filter_fn]
pub(crate) fn humane(value: impl Display, _: &dyn askama::Values) -> askama::Result<String> {
    Ok(words(&value.to_string()))
}

/// `PHQ9` → "PHQ-9".
#[askama::filter_fn]
pub(crate) fn instrument(value: impl Display, _: &dyn askama::Values) -> askama::Result<String> {
    Ok(instrument_label(&value.to_string()))
}

/// `CBT` → "CBT", `BEHAVIOURAL_ACTIVATION` → "Behavioural activation".
#[askama::filter_fn]
pub(crate) fn modality(value: impl Display, _: &dyn askama::Values) -> askama::Result<String> {
    Ok(modality_label(&value.to_string()))
}

/// The API's name of an instrument (`PHQ9`), as the domain knows it.
pub(crate) fn instrument_of(name: &str) -> Option<Instrument> {
    match name {
        "PHQ9" => Some(Instrument::Phq9),
        "GAD7" => Some(Instrument::Gad7),
        "PSWQ" => Some(Instrument::Pswq),
        _ => None,
    }
}

/// An RFC 3339 time as `2026-12-04 16:00:44 UTC`; anything else as it is.
#[askama::filter_fn]
pub(crate) fn when(value: impl Display, _: &dyn askama::Values) -> askama::Result<String> {
    Ok(moment(&value.to_string()))
}

fn moment(text: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(text).map_or_else(
        |_| text.to_owned(),
        |t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        },
    )
}

fn instrument_label(wire: &str) -> String {
    match instrument_of(wire) {
        Some(instrument) => instrument.label().to_owned(),
        None => wire.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_values_read_as_words() {
        assert_eq!(instrument_label("GAD7"), "GAD-7");
        assert_eq!(instrument_label("NEW"), "NEW");
        assert_eq!(
            moment("2026-12-04T17:00:44.19+01:00"),
            "2026-12-04 16:00:44 UTC"
        );
        assert_eq!(moment("2026-12-04"), "2026-12-04");
    }
}
