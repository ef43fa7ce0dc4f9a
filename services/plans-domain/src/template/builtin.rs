//! The built-in templates: the seed article's GAD and MDD plans.

use super::content::{PlanTemplate, TemplateGoal, TemplateIntervention, TemplateObjective};
use crate::event::{GoalTerm, MeasureScheduled, MeasureTarget, Modality, ServicePlanRecorded};
use crate::measure::Instrument;

pub(super) fn objective(description: &str, unit: &str, period: &str) -> TemplateObjective {
    TemplateObjective {
        description: description.to_owned(),
        unit: unit.to_owned(),
        period: period.to_owned(),
        measure: None,
    }
}

fn measured(description: &str, instrument: Instrument, reduction_percent: u8) -> TemplateObjective {
    TemplateObjective {
        description: description.to_owned(),
        unit: String::new(),
        period: String::new(),
        measure: Some(MeasureTarget {
            instrument,
            reduction_percent,
        }),
    }
}

pub(super) fn goal(
    description: &str,
    term: GoalTerm,
    objectives: Vec<TemplateObjective>,
) -> TemplateGoal {
    TemplateGoal {
        description: description.to_owned(),
        term,
        objectives,
    }
}

pub(super) fn intervention(
    modality: Modality,
    technique: &str,
    frequency: &str,
    goals: &[usize],
    comorbidity: &str,
) -> TemplateIntervention {
    TemplateIntervention {
        modality,
        technique: technique.to_owned(),
        frequency: frequency.to_owned(),
        goals: goals.to_vec(),
        comorbidity: comorbidity.to_owned(),
    }
}

/// "12-16 sessions ... ongoing maintenance every 4-6 weeks", as the seed
/// plans give it.
fn weekly_cbt(focus: &str, monitoring: &[&str]) -> ServicePlanRecorded {
    ServicePlanRecorded {
        session_type: "individual psychotherapy".to_owned(),
        minutes: 53,
        frequency: "weekly".to_owned(),
        sessions_min: 12,
        sessions_max: 16,
        focus: focus.to_owned(),
        maintenance: "Ongoing maintenance and relapse prevention sessions as needed, typically \
                      every 4-6 weeks."
            .to_owned(),
        monitoring: monitoring.iter().map(|m| (*m).to_owned()).collect(),
    }
}

const SELF_REPORT: &str = "Periodic self-report of progress toward short- and long-term goals.";
/// Interventions the seed's two plans word alike.
const RELAXATION_TRAINING: &str = "Teach mindfulness and relaxation techniques (e.g., deep \
                                   breathing, progressive muscle relaxation, mindfulness \
                                   meditation).";
const SLEEP_HYGIENE: &str = "Address sleep difficulties by establishing a regular sleep routine \
                             and promoting healthy sleep habits.";

/// The seed article's two example plans, as templates.
pub fn builtin_templates() -> Vec<(&'static str, PlanTemplate)> {
    use GoalTerm::{LongTerm, ShortTerm};
    let gad = PlanTemplate {
        name: "Generalized Anxiety Disorder (GAD)".to_owned(),
        goals: vec![
            goal(
                "Reduce frequency and intensity of excessive worry",
                ShortTerm,
                vec![measured(
                    "Client will reduce frequency and intensity of excessive worry as evidenced \
                     by 50% score improvement on Penn State Worry Questionnaire.",
                    Instrument::Pswq,
                    50,
                )],
            ),
            goal(
                "Learn and practice relaxation techniques",
                ShortTerm,
                vec![objective(
                    "Client will learn and practice relaxation techniques (e.g., deep \
                     breathing, progressive muscle relaxation).",
                    "relaxation practices",
                    "day",
                )],
            ),
            goal(
                "Sleep through the night",
                ShortTerm,
                vec![objective(
                    "Client will increase sleeping through the night.",
                    "nights slept through",
                    "week",
                )],
            ),
            goal(
                "Achieve and maintain 60-70% reduction in anxiety symptoms as measured by GAD-7.",
                LongTerm,
                vec![measured(
                    "GAD-7 at least 60% below baseline.",
                    Instrument::Gad7,
                    60,
                )],
            ),
            goal(
                "Develop and implement healthy coping strategies to manage future stressors.",
                LongTerm,
                vec![],
            ),
            goal(
                "Improve quality of life, including interpersonal relationships and work \
                 performance.",
                LongTerm,
                vec![],
            ),
        ],
        interventions: vec![
            intervention(
                Modality::Cbt,
                "Cognitive Restructuring: Identify and challenge irrational thoughts and \
                 catastrophic thinking. Help the patient reframe anxiety-provoking thoughts into \
                 more balanced perspectives.",
                "weekly sessions",
                &[0, 3],
                "",
            ),
            intervention(
                Modality::BehaviouralActivation,
                "Encourage activities that reduce avoidance and increase positive \
                 reinforcement, such as socializing or engaging in hobbies.",
                "weekly sessions",
                &[4, 5],
                "",
            ),
            intervention(
                Modality::RelaxationTraining,
                RELAXATION_TRAINING,
                "daily practice",
                &[1],
                "",
            ),
            intervention(
                Modality::Psychoeducation,
                "Educate the patient on the nature of GAD, the fight-or-flight response, and \
                 the role of physical tension in anxiety.",
                "early sessions",
                &[0],
                "",
            ),
            intervention(
                Modality::Exposure,
                "Gradual exposure to anxiety-provoking situations to reduce avoidance behaviors \
                 and increase tolerance of distressing feelings.",
                "weekly sessions",
                &[3],
                "",
            ),
            intervention(
                Modality::Mbsr,
                "Incorporate mindfulness practices to increase self-awareness and acceptance of \
                 anxious thoughts and feelings without judgment.",
                "daily practice",
                &[4],
                "",
            ),
            intervention(Modality::SleepHygiene, SLEEP_HYGIENE, "nightly", &[2], ""),
            intervention(
                Modality::BehaviouralActivation,
                "If depressive symptoms are present, incorporate Behavioral Activation and \
                 mood-monitoring techniques.",
                "as needed",
                &[],
                "depression",
            ),
            intervention(
                Modality::RelaxationTraining,
                "If the patient experiences somatic complaints (e.g., headaches, muscle \
                 tension), engage in relaxation exercises and consider a referral to a \
                 physician for further assessment if necessary.",
                "as needed",
                &[],
                "physical symptoms",
            ),
        ],
        measure_schedule: vec![
            // "GAD-7 ... at each session" (weekly), "PSWQ ... every 2 weeks".
            MeasureScheduled {
                instrument: Instrument::Gad7,
                interval_days: 7,
            },
            MeasureScheduled {
                instrument: Instrument::Pswq,
                interval_days: 14,
            },
        ],
        service_plan: Some(weekly_cbt(
            "Reducing anxiety and learning coping mechanisms.",
            &[
                "Weekly mood and anxiety tracking using a symptom diary.",
                SELF_REPORT,
            ],
        )),
    };
    let mdd = PlanTemplate {
        name: "Major Depressive Disorder (MDD)".to_owned(),
        goals: vec![
            goal(
                "Decrease thoughts related to suicidal ideation",
                ShortTerm,
                vec![objective(
                    "Client will decrease thoughts related to suicidal ideation.",
                    "thoughts of suicidal ideation",
                    "day",
                )],
            ),
            goal(
                "Engage in social activity outside the house",
                ShortTerm,
                vec![objective(
                    "Client will engage in a social activity outside the house.",
                    "social activities",
                    "week",
                )],
            ),
            goal(
                "Sleep through the night",
                ShortTerm,
                vec![objective(
                    "Client will increase sleeping through the night.",
                    "hours of sleep",
                    "night",
                )],
            ),
            goal(
                "Decrease alcohol use",
                ShortTerm,
                vec![objective(
                    "Client will decrease alcohol use.",
                    "beers",
                    "week",
                )],
            ),
            goal(
                "Achieve and maintain 60-70% reduction in depressive symptoms as measured by \
                 PHQ-9.",
                LongTerm,
                vec![measured(
                    "PHQ-9 at least 60% below baseline.",
                    Instrument::Phq9,
                    60,
                )],
            ),
            goal(
                "Develop and implement healthy coping strategies, such as exercise and deep \
                 breathing, to manage stressors.",
                LongTerm,
                vec![],
            ),
            goal(
                "Improve quality of life, including engaging in interpersonal relationships, \
                 joining a community group, planning travel to visit family, and returning to \
                 hobbies.",
                LongTerm,
                vec![],
            ),
        ],
        interventions: vec![
            intervention(
                Modality::Cbt,
                "Cognitive Restructuring: Identify, challenge, and reframe irrational thoughts \
                 and black-and-white thinking into more balanced perspectives.",
                "weekly sessions",
                &[0, 4],
                "",
            ),
            intervention(
                Modality::BehaviouralActivation,
                "Encourage activities that reduce avoidance, increase client’s participation \
                 in a routine, and increase positive reinforcement, such as socializing or \
                 engaging in hobbies.",
                "weekly sessions",
                &[1, 6],
                "",
            ),
            intervention(
                Modality::RelaxationTraining,
                RELAXATION_TRAINING,
                "daily practice",
                &[5],
                "",
            ),
            intervention(
                Modality::Psychoeducation,
                "Educate the patient on the nature of depression and normalize emotional \
                 difficulties around life transitions, such as retirement.",
                "early sessions",
                &[4],
                "",
            ),
            intervention(
                Modality::Act,
                "Teach the client to embrace their thoughts and feelings rather than fighting \
                 them, while committing to actions that align with their core values to create \
                 a meaningful life.",
                "weekly sessions",
                &[6],
                "",
            ),
            intervention(Modality::SleepHygiene, SLEEP_HYGIENE, "nightly", &[2], ""),
            intervention(
                Modality::Psychoeducation,
                "Provide psychoeducation on relaxation techniques, support the client in \
                 processing thoughts and feelings underlying the increase in alcohol use, and \
                 engage the client in structured problem-solving around finding alternative \
                 forms of coping with stress and sadness.",
                "weekly sessions",
                &[3],
                "alcohol use",
            ),
        ],
        measure_schedule: vec![MeasureScheduled {
            // "PHQ-9 ... at each session" (weekly).
            instrument: Instrument::Phq9,
            interval_days: 7,
        }],
        service_plan: Some(weekly_cbt(
            "Reducing depressive symptoms and learning coping mechanisms.",
            &[SELF_REPORT],
        )),
    };
    vec![("builtin-gad", gad), ("builtin-mdd", mdd)]
}
