//! The plan page's questionnaires (PHQ-9, GAD-7, PSWQ item by item) and
//! what a refused form carries back to the page.

use trellis_plans_domain::Instrument;

/// Why a form was refused, shown beside it.
#[derive(Debug, Clone)]
pub(crate) struct FormError {
    /// The form's element id.
    pub(crate) form: String,
    pub(crate) message: String,
    pub(crate) violations: Vec<(String, String)>,
    /// What was sent, so the form shows it again to be corrected.
    pub(crate) sent: Vec<(String, String)>,
}

/// One questionnaire item: its wording and the answers it offers.
pub(crate) struct Item {
    pub(crate) number: usize,
    pub(crate) text: &'static str,
}

/// A questionnaire, item by item.
pub(crate) struct MeasureForm {
    pub(crate) instrument: &'static str,
    pub(crate) label: &'static str,
    pub(crate) anchor: &'static str,
    pub(crate) stem: &'static str,
    pub(crate) items: Vec<Item>,
    pub(crate) choices: Vec<(u8, &'static str)>,
    pub(crate) total_range: (u32, u32),
}

const PHQ9: [&str; 9] = [
    "Little interest or pleasure in doing things",
    "Feeling down, depressed, or hopeless",
    "Trouble falling or staying asleep, or sleeping too much",
    "Feeling tired or having little energy",
    "Poor appetite or overeating",
    "Feeling bad about yourself, or that you are a failure or have let yourself or your family down",
    "Trouble concentrating on things, such as reading the newspaper or watching television",
    "Moving or speaking so slowly that other people could have noticed, or the opposite: being so fidgety or restless that you have been moving around a lot more than usual",
    "Thoughts that you would be better off dead, or of hurting yourself in some way",
];

const GAD7: [&str; 7] = [
    "Feeling nervous, anxious, or on edge",
    "Not being able to stop or control worrying",
    "Worrying too much about different things",
    "Trouble relaxing",
    "Being so restless that it is hard to sit still",
    "Becoming easily annoyed or irritable",
    "Feeling afraid, as if something awful might happen",
];

const FREQUENCY: [(u8, &str); 4] = [
    (0, "Not at all"),
    (1, "Several days"),
    (2, "More than half the days"),
    (3, "Nearly every day"),
];

const TYPICAL: [(u8, &str); 5] = [
    (1, "Not at all typical of me"),
    (2, "Rarely typical"),
    (3, "Somewhat typical"),
    (4, "Often typical"),
    (5, "Very typical of me"),
];

/// The three questionnaires Trellis scores.
pub(crate) fn measure_forms() -> Vec<MeasureForm> {
    let numbered = |texts: &[&'static str]| -> Vec<Item> {
        texts
            .iter()
            .enumerate()
            .map(|(i, text)| Item {
                number: i + 1,
                text,
            })
            .collect()
    };
    // The PSWQ's wording is the publisher's; the form numbers its items
    // for a clinician reading them from the client's copy.
    let pswq: Vec<Item> = (1..=Instrument::Pswq.items())
        .map(|number| Item {
            number,
            text: "PSWQ item",
        })
        .collect();
    vec![
        MeasureForm {
            instrument: "PHQ9",
            label: "PHQ-9",
            anchor: "record-phq9",
            stem: "Over the last 2 weeks, how often has the client been bothered by:",
            items: numbered(&PHQ9),
            choices: FREQUENCY.to_vec(),
            total_range: Instrument::Phq9.total_range(),
        },
        MeasureForm {
            instrument: "GAD7",
            label: "GAD-7",
            anchor: "record-gad7",
            stem: "Over the last 2 weeks, how often has the client been bothered by:",
            items: numbered(&GAD7),
            choices: FREQUENCY.to_vec(),
            total_range: Instrument::Gad7.total_range(),
        },
        MeasureForm {
            instrument: "PSWQ",
            label: "PSWQ",
            anchor: "record-pswq",
            stem: "How typical of the client is each statement (items as numbered on the questionnaire):",
            items: pswq,
            choices: TYPICAL.to_vec(),
            total_range: Instrument::Pswq.total_range(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::filters::instrument_of;

    #[test]
    fn the_questionnaires_have_the_instruments_item_counts() {
        for questionnaire in measure_forms() {
            let instrument = instrument_of(questionnaire.instrument).unwrap();
            assert_eq!(questionnaire.items.len(), instrument.items());
            let (lo, hi) = instrument.item_range();
            assert_eq!(questionnaire.choices.first().unwrap().0, lo);
            assert_eq!(questionnaire.choices.last().unwrap().0, hi);
        }
    }
}
