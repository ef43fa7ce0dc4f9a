//! Doug McGee, 67: major depressive disorder, single episode, moderate,
//! with alcohol abuse, from the built-in MDD template; passive suicidal
//! ideation at intake.

use trellis_proto::plans::v1 as pb;

use super::seed::{Completion, Intake, SeedPlan};

pub(super) fn plan() -> SeedPlan {
    SeedPlan {
        key: "doug-mcgee",
        template_id: "builtin-mdd",
        client_id: "client-2087",
        title: "Major Depressive Disorder, Single Episode, Moderate - Doug McGee, 67",
        payer: "medicare",
        // Comorbid: "Alcohol Abuse" in the article's plan.
        diagnoses: &["F32.1", "F10.10"],
        narrative: DOUG_NARR,
        symptoms: DOUG_SYM,
        intake_measures: &[Intake {
            // Item 9 at 1: the passive ideation he endorsed.
            instrument: pb::Instrument::Phq9,
            answers: &[2, 2, 2, 1, 2, 1, 2, 1, 1],
            total: None,
        }],
        completions: vec![
            Completion::Quantity {
                description: "Client will decrease thoughts related to suicidal ideation from 2-3 times per day to 0 times per day.",
                baseline: 2.5,
                target: 0.0,
                months: 3,
            },
            Completion::Quantity {
                description: "Client will engage in a social activity outside the house from 0 times per week to 1 time per week.",
                baseline: 0.0,
                target: 1.0,
                months: 3,
            },
            Completion::Quantity {
                description: "Client will increase sleeping through the night from 4-5 hours per night to 7-8 hours per night.",
                baseline: 4.5,
                target: 7.5,
                months: 3,
            },
            Completion::Quantity {
                description: "Client will decrease alcohol use from 3-4 beers per day to 3-4 beers per week.",
                baseline: 24.5,
                target: 3.5,
                months: 3,
            },
            // "60-70% reduction in depressive symptoms as measured by PHQ-9."
            Completion::Measure { months: 12 },
        ],
        strengths: &[
            "Two children he wants to visit",
            "A hobby to return to: woodworking",
            "No previous history of depressive symptoms of this severity",
        ],
        barriers: &[
            "Lives alone with few social supports",
            "Loss of routine since retiring",
            "Drinking more: 3-4 beers a day",
        ],
        supports: &[
            (
                pb::SupportKind::Family,
                "Family involvement not applicable: his two children live in different states.",
            ),
            (
                pb::SupportKind::Community,
                "Therapist will work with client to find and engage in at least one community group.",
            ),
        ],
        referrals: &[
            (
                "psychiatrist",
                "Medication: if depressive symptoms persist or worsen, evaluation of potential pharmacological interventions.",
                pb::ReferralStatus::Planned,
            ),
            (
                "primary care physician",
                "Physical health: a check-up; he reports he has not been to a doctor in 15 years.",
                pb::ReferralStatus::Made,
            ),
        ],
        warning_signs: &["Acute depressive episodes", "Suicidal ideation worsens"],
        coping_steps: &[
            "Use the steps agreed in the safety plan when overwhelmed or feeling a danger to himself",
            "Call one of his children or a crisis line",
        ],
        contacts: &[
            ("Son", "child", "on file with the clinic"),
            ("Daughter", "child", "on file with the clinic"),
        ],
        intake_review: true,
        supervisor_cosigns: true,
        personal_goals: &[(
            6,
            "Improve quality of life, including engaging in interpersonal relationships, joining a community group, planning travel to visit his kids, and returning to his hobby of woodworking.",
        )],
    }
}

const DOUG_NARR: &str = "The client presented to treatment reporting symptoms of low mood, negative self-talk, low motivation, poor appetite, and poor sleep. He stated he is currently getting 4-5 hours per night, whereas his typical baseline is 7-8 hours per night. The client reported his symptoms began approximately one month ago when he retired from his career as a machinist in a factory. He stated he has had low periods in his life but noted no previous history of experiencing depressive symptoms of this severity. The client endorsed passive suicidal ideation, stating he has thoughts of falling asleep and not waking up but denied having a plan, means, or intent to self-harm. The client stated he has been drinking more frequently in the past month - 3-4 beers per day whereas typically he would have only 3-4 beers per week. The client lives alone and has few social supports outside of his two children who live in different states.";

#[rustfmt::skip]
const DOUG_SYM: &[(&str, &str, &str, &str)] = &[
    (
        "low mood",
        "daily",
        "moderate",
        "one month ago, at retirement",
    ),
    ("negative self-talk", "daily", "moderate", "one month ago"),
    ("low motivation", "daily", "moderate", "one month ago"),
    ("poor appetite", "daily", "mild", "one month ago"),
    (
        "poor sleep: 4-5 hours a night",
        "nightly",
        "moderate",
        "one month ago",
    ),
    (
        "passive suicidal ideation, no plan, means or intent",
        "2-3 times a day",
        "moderate",
        "one month ago",
    ),
    (
        "increased drinking: 3-4 beers a day",
        "daily",
        "moderate",
        "one month ago",
    ),
];
