//! Plan templates: the seed's GAD and MDD plans built in, and each
//! tenant's own.
//!
//! A tenant's templates live in one stream (`<tenant>:templates-tenant`)
//! of [`TemplateEvent`]s; every save is a new version. A plan created from
//! a template copies its content into the plan's own events, so changing
//! or retiring a template never alters a plan made from it. Objectives
//! come as placeholders (no baseline, target or date) that the clinician
//! completes before the plan can be activated.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::codec::stored_events;
use crate::error::{FieldViolation, PlanError};
use crate::event::{GoalTerm, MeasureScheduled, MeasureTarget, Modality, ServicePlanRecorded};
use crate::measure::Instrument;

pub const TEMPLATES_CATEGORY: &str = "templates";
pub const TEMPLATES_STREAM_ID: &str = "tenant";
/// Built-in template ids start with this; tenants cannot save over them.
pub const BUILTIN_PREFIX: &str = "builtin-";

const MAX_NAME: usize = 200;
const MAX_TEXT: usize = 4000;
const MAX_ENTRIES: usize = 50;

/// An objective to be completed with the client's own numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateObjective {
    pub description: String,
    pub unit: String,
    pub period: String,
    pub measure: Option<MeasureTarget>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateGoal {
    pub description: String,
    pub term: GoalTerm,
    pub objectives: Vec<TemplateObjective>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateIntervention {
    pub modality: Modality,
    pub technique: String,
    pub frequency: String,
    /// Indexes into the template's goals.
    pub goals: Vec<usize>,
    pub comorbidity: String,
}

/// What a plan made from the template starts with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTemplate {
    pub name: String,
    pub goals: Vec<TemplateGoal>,
    pub interventions: Vec<TemplateIntervention>,
    pub measure_schedule: Vec<MeasureScheduled>,
    pub service_plan: Option<ServicePlanRecorded>,
}

/// Which template, at which version, a plan was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRef {
    pub template_id: String,
    pub version: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateSaved {
    pub template_id: String,
    pub template: PlanTemplate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRetired {
    pub template_id: String,
}

stored_events! {
    /// What happens to a tenant's templates.
    pub enum TemplateEvent {
        Saved(Box<TemplateSaved>) = "TemplateSaved" @ 1,
        Retired(TemplateRetired) = "TemplateRetired" @ 1,
    }
}

/// A template as offered to clinicians.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTemplate {
    pub reference: TemplateRef,
    pub builtin: bool,
    pub template: PlanTemplate,
}

/// The built-in templates and a tenant's own, as the tenant's stream
/// leaves them.
#[derive(Debug, Clone, Default)]
pub struct TemplateLibrary {
    /// Tenant templates by id: latest version and content (None once retired).
    own: BTreeMap<String, (u32, Option<PlanTemplate>)>,
}

impl TemplateLibrary {
    pub fn evolve(&mut self, event: &TemplateEvent) {
        match event {
            TemplateEvent::Saved(e) => {
                let entry = self.own.entry(e.template_id.clone()).or_insert((0, None));
                entry.0 += 1;
                entry.1 = Some(e.template.clone());
            }
            TemplateEvent::Retired(e) => {
                if let Some(entry) = self.own.get_mut(&e.template_id) {
                    entry.1 = None;
                }
            }
        }
    }

    /// Every template in use: built-in ones first, then the tenant's.
    pub fn list(&self) -> Vec<ListedTemplate> {
        let builtin = builtin_templates()
            .into_iter()
            .map(|(id, template)| ListedTemplate {
                reference: TemplateRef {
                    template_id: id.to_owned(),
                    version: 1,
                },
                builtin: true,
                template,
            });
        let own = self.own.iter().filter_map(|(id, (version, template))| {
            template.as_ref().map(|t| ListedTemplate {
                reference: TemplateRef {
                    template_id: id.clone(),
                    version: *version,
                },
                builtin: false,
                template: t.clone(),
            })
        });
        builtin.chain(own).collect()
    }

    /// The current version of a template in use.
    pub fn get(&self, template_id: &str) -> Result<(TemplateRef, PlanTemplate), PlanError> {
        self.list()
            .into_iter()
            .find(|t| t.reference.template_id == template_id)
            .map(|t| (t.reference, t.template))
            .ok_or(PlanError::UnknownTemplate)
    }

    /// Saves a new template, or a new version of one of the tenant's.
    pub fn save(
        &self,
        template_id: &str,
        template: PlanTemplate,
    ) -> Result<TemplateEvent, PlanError> {
        if template_id.starts_with(BUILTIN_PREFIX) {
            return Err(PlanError::TemplateReadOnly);
        }
        if template_id.chars().count() > MAX_NAME {
            return Err(PlanError::Invalid(vec![FieldViolation::new(
                "template_id",
                format!("must be at most {MAX_NAME} characters"),
            )]));
        }
        Ok(TemplateEvent::Saved(Box::new(TemplateSaved {
            template_id: template_id.to_owned(),
            template: validate(&template)?,
        })))
    }

    pub fn retire(&self, template_id: &str) -> Result<TemplateEvent, PlanError> {
        if template_id.starts_with(BUILTIN_PREFIX) {
            return Err(PlanError::TemplateReadOnly);
        }
        match self.own.get(template_id) {
            Some((_, Some(_))) => Ok(TemplateEvent::Retired(TemplateRetired {
                template_id: template_id.to_owned(),
            })),
            _ => Err(PlanError::UnknownTemplate),
        }
    }
}

/// Checks a template and returns it with its service plan trimmed.
fn validate(t: &PlanTemplate) -> Result<PlanTemplate, PlanError> {
    let mut v = Vec::new();
    let mut text = |field: &'static str, value: &str, max: usize, required: bool| {
        if required && value.trim().is_empty() {
            v.push(FieldViolation::new(field, "is required"));
        } else if value.chars().count() > max {
            v.push(FieldViolation::new(
                field,
                format!("must be at most {max} characters"),
            ));
        }
    };
    text("name", &t.name, MAX_NAME, true);
    for goal in &t.goals {
        text("goals.description", &goal.description, MAX_TEXT, true);
        for o in &goal.objectives {
            text(
                "goals.objectives.description",
                &o.description,
                MAX_TEXT,
                true,
            );
            text(
                "goals.objectives.unit",
                &o.unit,
                MAX_NAME,
                o.measure.is_none(),
            );
            text("goals.objectives.period", &o.period, MAX_NAME, false);
        }
    }
    for i in &t.interventions {
        text("interventions.technique", &i.technique, MAX_TEXT, true);
        text("interventions.frequency", &i.frequency, MAX_NAME, false);
        text("interventions.comorbidity", &i.comorbidity, MAX_NAME, false);
        if let Modality::Other(name) = &i.modality {
            text("interventions.modality", name, MAX_NAME, true);
        }
    }
    if t.goals.is_empty() {
        v.push(FieldViolation::new("goals", "a template needs a goal"));
    }
    if t.goals.iter().any(|g| g.objectives.len() > MAX_ENTRIES)
        || t.measure_schedule.len() > MAX_ENTRIES
    {
        v.push(FieldViolation::new(
            "goals.objectives",
            format!("at most {MAX_ENTRIES} objectives per goal and schedule entries"),
        ));
    }
    if t.goals.len() > MAX_ENTRIES || t.interventions.len() > MAX_ENTRIES {
        v.push(FieldViolation::new(
            "goals",
            format!("at most {MAX_ENTRIES} goals and {MAX_ENTRIES} interventions"),
        ));
    }
    if t.goals
        .iter()
        .flat_map(|g| &g.objectives)
        .filter_map(|o| o.measure)
        .any(|m| !(1..=100).contains(&m.reduction_percent))
    {
        v.push(FieldViolation::new(
            "goals.objectives.measure.reduction_percent",
            "must be between 1 and 100",
        ));
    }
    if t.interventions
        .iter()
        .flat_map(|i| &i.goals)
        .any(|g| *g >= t.goals.len())
    {
        v.push(FieldViolation::new(
            "interventions.goals",
            "must name goals of the template by index",
        ));
    }
    if t.measure_schedule.iter().any(|s| s.interval_days > 365) {
        v.push(FieldViolation::new(
            "measure_schedule.interval_days",
            "must be at most 365",
        ));
    }
    let service_plan = match t
        .service_plan
        .as_ref()
        .map(crate::plan::checked_service_plan)
    {
        Some(Err(PlanError::Invalid(problems))) => {
            v.extend(problems);
            None
        }
        Some(checked) => checked.ok(),
        None => None,
    };
    if v.is_empty() {
        Ok(PlanTemplate {
            service_plan,
            ..t.clone()
        })
    } else {
        Err(PlanError::Invalid(v))
    }
}

fn objective(description: &str, unit: &str, period: &str) -> TemplateObjective {
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

fn goal(description: &str, term: GoalTerm, objectives: Vec<TemplateObjective>) -> TemplateGoal {
    TemplateGoal {
        description: description.to_owned(),
        term,
        objectives,
    }
}

fn intervention(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant_template(name: &str) -> PlanTemplate {
        PlanTemplate {
            name: name.to_owned(),
            goals: vec![goal(
                "Reduce panic attacks",
                GoalTerm::ShortTerm,
                vec![objective("Fewer panic attacks", "panic attacks", "week")],
            )],
            interventions: vec![],
            measure_schedule: vec![],
            service_plan: None,
        }
    }

    #[test]
    fn the_built_in_templates_are_valid_and_offered_first() {
        for (_, template) in builtin_templates() {
            assert_eq!(validate(&template), Ok(template.clone()));
        }
        let listed = TemplateLibrary::default().list();
        let ids: Vec<&str> = listed
            .iter()
            .map(|t| t.reference.template_id.as_str())
            .collect();
        assert_eq!(ids, ["builtin-gad", "builtin-mdd"]);
    }

    #[test]
    fn each_save_is_a_new_version_and_retired_templates_are_not_offered() {
        let mut library = TemplateLibrary::default();
        library.evolve(&library.save("panic", tenant_template("Panic v1")).unwrap());
        library.evolve(&library.save("panic", tenant_template("Panic v2")).unwrap());
        let (reference, template) = library.get("panic").unwrap();
        assert_eq!(reference.version, 2);
        assert_eq!(template.name, "Panic v2");
        library.evolve(&library.retire("panic").unwrap());
        assert_eq!(library.get("panic"), Err(PlanError::UnknownTemplate));
        assert_eq!(library.retire("panic"), Err(PlanError::UnknownTemplate));
    }

    #[test]
    fn built_in_templates_cannot_be_changed() {
        let library = TemplateLibrary::default();
        assert_eq!(
            library.save("builtin-gad", tenant_template("Mine")),
            Err(PlanError::TemplateReadOnly)
        );
        assert_eq!(
            library.retire("builtin-mdd"),
            Err(PlanError::TemplateReadOnly)
        );
    }

    #[test]
    fn a_template_names_every_problem() {
        let mut t = tenant_template(" ");
        t.goals[0].objectives[0].unit = String::new();
        t.interventions
            .push(intervention(Modality::Cbt, "x", "", &[3], ""));
        let Err(PlanError::Invalid(v)) = TemplateLibrary::default().save("t", t) else {
            panic!("expected field violations");
        };
        let fields: Vec<&str> = v.iter().map(|v| v.field).collect();
        assert_eq!(
            fields,
            ["name", "goals.objectives.unit", "interventions.goals"]
        );
    }
}
