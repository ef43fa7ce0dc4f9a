//! Standardized measures: PHQ-9, GAD-7, PSWQ. Scoring, severity bands,
//! change from baseline, response and remission. Pure functions.

use serde::{Deserialize, Serialize};

/// A questionnaire the plan monitors progress with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Instrument {
    /// Patient Health Questionnaire, 9 items (depression), 0–27.
    Phq9,
    /// Generalized Anxiety Disorder scale, 7 items, 0–21.
    Gad7,
    /// Penn State Worry Questionnaire, 16 items, 16–80.
    Pswq,
}

/// Severity as the instrument's published bands name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeverityBand {
    Minimal,
    Mild,
    Moderate,
    ModeratelySevere,
    Severe,
    /// PSWQ: low worry.
    Low,
    /// PSWQ: high worry.
    High,
}

/// PSWQ items scored in reverse (1-based), as published.
const PSWQ_REVERSED: [usize; 5] = [1, 3, 8, 10, 11];

impl Instrument {
    pub fn items(self) -> usize {
        match self {
            Self::Phq9 => 9,
            Self::Gad7 => 7,
            Self::Pswq => 16,
        }
    }

    /// The answer range of each item.
    pub fn item_range(self) -> (u8, u8) {
        match self {
            Self::Phq9 | Self::Gad7 => (0, 3),
            Self::Pswq => (1, 5),
        }
    }

    /// The total's range.
    pub fn total_range(self) -> (u32, u32) {
        match self {
            Self::Phq9 => (0, 27),
            Self::Gad7 => (0, 21),
            Self::Pswq => (16, 80),
        }
    }

    /// The name clinicians use.
    pub fn label(self) -> &'static str {
        match self {
            Self::Phq9 => "PHQ-9",
            Self::Gad7 => "GAD-7",
            Self::Pswq => "PSWQ",
        }
    }

    /// LOINC code of the total score, for the planned FHIR export.
    pub fn loinc(self) -> &'static str {
        match self {
            Self::Phq9 => "44261-6",
            Self::Gad7 => "70274-6",
            Self::Pswq => "",
        }
    }

    /// Total of valid answers (count and range checked by the caller).
    pub fn score(self, answers: &[u8]) -> u32 {
        answers
            .iter()
            .enumerate()
            .map(|(i, &a)| {
                let reversed = self == Self::Pswq && PSWQ_REVERSED.contains(&(i + 1));
                u32::from(if reversed { 6 - a } else { a })
            })
            .sum()
    }

    pub fn band(self, total: u32) -> SeverityBand {
        match self {
            Self::Phq9 => match total {
                0..=4 => SeverityBand::Minimal,
                5..=9 => SeverityBand::Mild,
                10..=14 => SeverityBand::Moderate,
                15..=19 => SeverityBand::ModeratelySevere,
                _ => SeverityBand::Severe,
            },
            Self::Gad7 => match total {
                0..=4 => SeverityBand::Minimal,
                5..=9 => SeverityBand::Mild,
                10..=14 => SeverityBand::Moderate,
                _ => SeverityBand::Severe,
            },
            Self::Pswq => match total {
                0..=39 => SeverityBand::Low,
                40..=59 => SeverityBand::Moderate,
                _ => SeverityBand::High,
            },
        }
    }

    /// Remission where the instrument defines it (PHQ-9 < 5, GAD-7 < 5).
    pub fn in_remission(self, total: u32) -> Option<bool> {
        match self {
            Self::Phq9 | Self::Gad7 => Some(total < 5),
            Self::Pswq => None,
        }
    }
}

/// Response: a drop of at least half from the baseline total.
pub fn is_response(baseline: u32, total: u32) -> bool {
    baseline > 0 && total * 2 <= baseline
}

/// Whether PHQ-9 answers raise a safety flag: item 9 ("thoughts that you
/// would be better off dead, or of hurting yourself") above 0.
pub fn raises_safety_flag(instrument: Instrument, answers: &[u8]) -> bool {
    instrument == Instrument::Phq9 && answers.get(8).is_some_and(|&a| a > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use SeverityBand::*;

    #[test]
    fn phq9_bands_at_every_boundary() {
        let cases = [
            (0, Minimal),
            (4, Minimal),
            (5, Mild),
            (9, Mild),
            (10, Moderate),
            (14, Moderate),
            (15, ModeratelySevere),
            (19, ModeratelySevere),
            (20, Severe),
            (27, Severe),
        ];
        for (total, band) in cases {
            assert_eq!(Instrument::Phq9.band(total), band, "PHQ-9 {total}");
        }
    }

    #[test]
    fn gad7_bands_at_every_boundary() {
        let cases = [
            (0, Minimal),
            (4, Minimal),
            (5, Mild),
            (9, Mild),
            (10, Moderate),
            (14, Moderate),
            (15, Severe),
            (21, Severe),
        ];
        for (total, band) in cases {
            assert_eq!(Instrument::Gad7.band(total), band, "GAD-7 {total}");
        }
    }

    #[test]
    fn pswq_bands_at_every_boundary() {
        let cases = [
            (16, Low),
            (39, Low),
            (40, Moderate),
            (59, Moderate),
            (60, High),
            (80, High),
        ];
        for (total, band) in cases {
            assert_eq!(Instrument::Pswq.band(total), band, "PSWQ {total}");
        }
    }

    #[test]
    fn pswq_reverse_scores_items_1_3_8_10_11() {
        // All "1" answers: 11 straight items score 1, 5 reversed score 5.
        assert_eq!(Instrument::Pswq.score(&[1; 16]), 11 + 5 * 5);
        assert_eq!(Instrument::Pswq.score(&[5; 16]), 11 * 5 + 5);
        let mut answers = [3u8; 16];
        answers[0] = 1; // item 1 reversed: 5
        answers[1] = 1; // item 2 straight: 1
        assert_eq!(Instrument::Pswq.score(&answers), 14 * 3 + 5 + 1);
    }

    #[test]
    fn sums_and_ranges() {
        assert_eq!(Instrument::Phq9.score(&[3; 9]), 27);
        assert_eq!(Instrument::Gad7.score(&[3; 7]), 21);
        assert_eq!(Instrument::Pswq.total_range(), (16, 80));
        assert_eq!(Instrument::Phq9.loinc(), "44261-6");
        assert_eq!(Instrument::Gad7.loinc(), "70274-6");
    }

    #[test]
    fn response_and_remission() {
        assert!(is_response(14, 7), "exactly half is a response");
        assert!(!is_response(14, 8));
        assert!(!is_response(0, 0), "no baseline, no response");
        assert_eq!(Instrument::Phq9.in_remission(4), Some(true));
        assert_eq!(Instrument::Phq9.in_remission(5), Some(false));
        assert_eq!(Instrument::Gad7.in_remission(4), Some(true));
        assert_eq!(Instrument::Gad7.in_remission(5), Some(false));
        assert_eq!(Instrument::Pswq.in_remission(20), None);
    }

    #[test]
    fn only_phq9_item_9_above_zero_raises_a_flag() {
        let mut answers = [0u8; 9];
        assert!(!raises_safety_flag(Instrument::Phq9, &answers));
        answers[8] = 1;
        assert!(raises_safety_flag(Instrument::Phq9, &answers));
        assert!(!raises_safety_flag(Instrument::Gad7, &[1; 7]));
    }
}
