//! Emma Lee, 27: generalized anxiety disorder, from the built-in GAD
//! template.

use trellis_proto::plans::v1 as pb;

use super::seed::{Completion, Intake, SeedPlan};

pub(super) fn plan() -> SeedPlan {
    SeedPlan {
        key: "emma-lee",
        template_id: "builtin-gad",
        client_id: "client-1042",
        title: "Generalized Anxiety Disorder (GAD) - Emma Lee, 27",
        payer: "commercial",
        diagnoses: &["F41.1"],
        narrative: EMMA_NARR,
        symptoms: EMMA_SYM,
        intake_measures: &[
            Intake {
                instrument: pb::Instrument::Gad7,
                answers: &[2, 2, 2, 2, 3, 2, 2],
                total: None,
            },
            Intake {
                instrument: pb::Instrument::Pswq,
                answers: &[],
                total: Some(62),
            },
        ],
        completions: vec![
            // "50% score improvement on Penn State Worry Questionnaire."
            Completion::Measure { months: 3 },
            Completion::Quantity {
                description: "Client will learn and practice relaxation techniques (e.g., deep breathing, progressive muscle relaxation) from 0 times per day to 1 times per day.",
                baseline: 0.0,
                target: 1.0,
                months: 3,
            },
            Completion::Quantity {
                description: "Client will increase sleeping through the night from 0 times per week to 2 times per week.",
                baseline: 0.0,
                target: 2.0,
                months: 3,
            },
            // "60-70% reduction in anxiety symptoms as measured by GAD-7."
            Completion::Measure { months: 12 },
        ],
        strengths: &[
            "Insight into the pattern of her worry, present since childhood",
            "Supportive partner",
        ],
        barriers: &["Sleep disturbance", "Physical tension"],
        supports: &[
            (
                pb::SupportKind::Family,
                "Educate client’s partner on GAD symptoms and how to support the patient without enabling avoidance behaviors.",
            ),
            (
                pb::SupportKind::Social,
                "Encourage the patient to engage with supportive friends or groups to reduce isolation.",
            ),
        ],
        referrals: &[
            (
                "psychiatrist",
                "Medication: if anxiety symptoms persist or worsen, evaluation of potential pharmacological interventions.",
                pb::ReferralStatus::Planned,
            ),
            (
                "physician",
                "Physical health: any medical concerns (e.g., sleep issues, unexplained physical symptoms) that could be contributing to anxiety.",
                pb::ReferralStatus::Planned,
            ),
        ],
        warning_signs: &["Acute anxiety episodes", "Suicidal ideation"],
        coping_steps: &[
            "Use the steps agreed in the safety plan when feeling overwhelmed or unable to manage anxiety independently",
            "Call an emergency contact or a crisis line",
        ],
        contacts: &[("Partner", "partner", "on file with the clinic")],
        intake_review: false,
        supervisor_cosigns: false,
        personal_goals: &[],
    }
}

const EMMA_NARR: &str = "The client reported excessive, uncontrollable worry about a variety of topics (work, health, relationships, etc.), occurring more days than not for at least six months. They stated they have experienced anxiety and worry for as long as they can remember, starting in childhood. Symptoms reported include physical tension, restlessness, irritability, difficulty concentrating, and sleep disturbances, including waking multiple times in the middle of the night and having difficulty getting back to sleep. The client reported low mood at times.";

#[rustfmt::skip]
const EMMA_SYM: &[(&str, &str, &str, &str)] = &[
    (
        "excessive, uncontrollable worry",
        "more days than not",
        "high",
        "childhood",
    ),
    (
        "physical tension",
        "more days than not",
        "moderate",
        "at least six months ago",
    ),
    (
        "restlessness",
        "more days than not",
        "moderate",
        "at least six months ago",
    ),
    (
        "irritability",
        "often",
        "moderate",
        "at least six months ago",
    ),
    (
        "difficulty concentrating",
        "often",
        "moderate",
        "at least six months ago",
    ),
    (
        "sleep disturbance: waking several times a night",
        "most nights",
        "moderate",
        "at least six months ago",
    ),
    ("low mood", "at times", "mild", "unspecified"),
];
