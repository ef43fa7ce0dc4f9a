//! `trellis demo`: the seed's two example plans (Emma Lee, GAD; Doug McGee,
//! MDD), sent as commands through the gRPC API like any clinic app would.
//!
//! Command ids are derived from the tenant and a fixed name, so running the
//! demo twice changes nothing the second time.

use anyhow::Context;
use chrono::{Duration, NaiveDate, Utc};
use tonic::metadata::MetadataValue;
use tonic::transport::Endpoint;
use trellis_auth::{Caller, Role, TokenIssuer};
use trellis_kernel::TenantId;
use trellis_proto::plans::v1 as pb;
use trellis_proto::plans::v1::plan_service_client::PlanServiceClient;
use uuid::Uuid;

use crate::DemoArgs;

const CLINICIAN: &str = "dr-rivera";
const CLINIC: &str = "main-street";
const DEMO_NAMESPACE: Uuid = Uuid::from_u128(0x3e83_1fe6_1c28_4e02_9a5f_0d3c_7b1e_aa01);

/// An objective: what moves, from where to where, counted per what.
struct SeedObjective {
    description: &'static str,
    baseline: f64,
    target: f64,
    unit: &'static str,
    period: &'static str,
}

struct SeedGoal {
    description: &'static str,
    long_term: bool,
    objective: Option<SeedObjective>,
}

struct SeedPlan {
    key: &'static str,
    /// Whether an intake review was held with the client.
    intake_review: bool,
    client_id: &'static str,
    title: &'static str,
    goals: Vec<SeedGoal>,
    /// ICD-10-CM codes, the primary first.
    diagnoses: &'static [&'static str],
    /// The presenting problem as the article gives it, and its symptoms
    /// (name, frequency, intensity, onset).
    narrative: &'static str,
    symptoms: &'static [(&'static str, &'static str, &'static str, &'static str)],
    /// (modality, technique, frequency, indexes of the goals it serves)
    interventions: &'static [(pb::Modality, &'static str, &'static str, &'static [usize])],
    warning_signs: &'static [&'static str],
    coping_steps: &'static [&'static str],
    /// (name, relationship, phone)
    contacts: &'static [(&'static str, &'static str, &'static str)],
}

const CRISIS_LINES: &[&str] = &["988 Suicide & Crisis Lifeline (call or text 988)"];

const fn objective(
    description: &'static str,
    baseline: f64,
    target: f64,
    unit: &'static str,
    period: &'static str,
) -> Option<SeedObjective> {
    Some(SeedObjective {
        description,
        baseline,
        target,
        unit,
        period,
    })
}

fn seed_plans() -> Vec<SeedPlan> {
    let goal = |description, long_term, objective| SeedGoal {
        description,
        long_term,
        objective,
    };
    vec![
        SeedPlan {
            key: "emma-lee",
            intake_review: false,
            diagnoses: &["F41.1"],
            narrative: "The client reported excessive, uncontrollable worry about a variety of topics (work, health, relationships, etc.), occurring more days than not for at least six months. They stated they have experienced anxiety and worry for as long as they can remember, starting in childhood. Symptoms reported include physical tension, restlessness, irritability, difficulty concentrating, and sleep disturbances, including waking multiple times in the middle of the night and having difficulty getting back to sleep. The client reported low mood at times.",
            symptoms: &[
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
            ],
            interventions: &[
                (
                    pb::Modality::Cbt,
                    "Cognitive Restructuring: identify and challenge irrational thoughts and catastrophic thinking; reframe anxiety-provoking thoughts into more balanced perspectives.",
                    "weekly sessions",
                    &[0, 3],
                ),
                (
                    pb::Modality::BehaviouralActivation,
                    "Encourage activities that reduce avoidance and increase positive reinforcement, such as socializing or engaging in hobbies.",
                    "weekly sessions",
                    &[4, 5],
                ),
                (
                    pb::Modality::RelaxationTraining,
                    "Teach mindfulness and relaxation techniques (deep breathing, progressive muscle relaxation, mindfulness meditation).",
                    "daily practice",
                    &[1],
                ),
                (
                    pb::Modality::Psychoeducation,
                    "Educate the patient on the nature of GAD, the fight-or-flight response, and the role of physical tension in anxiety.",
                    "early sessions",
                    &[0],
                ),
                (
                    pb::Modality::Exposure,
                    "Gradual exposure to anxiety-provoking situations to reduce avoidance and increase tolerance of distressing feelings.",
                    "weekly sessions",
                    &[3],
                ),
                (
                    pb::Modality::Mbsr,
                    "Incorporate mindfulness practices to increase self-awareness and acceptance of anxious thoughts and feelings without judgment.",
                    "daily practice",
                    &[4],
                ),
                (
                    pb::Modality::SleepHygiene,
                    "Establish a regular sleep routine and promote healthy sleep habits.",
                    "nightly",
                    &[2],
                ),
            ],
            warning_signs: &["Acute anxiety episodes", "Suicidal ideation"],
            coping_steps: &[
                "Use the steps agreed in the safety plan when feeling overwhelmed or unable to manage anxiety independently",
                "Call an emergency contact or a crisis line",
            ],
            contacts: &[("Partner", "partner", "on file with the clinic")],
            client_id: "client-emma-lee",
            title: "Generalized Anxiety Disorder (GAD) - Emma Lee, 27",
            goals: vec![
                goal(
                    "Reduce frequency and intensity of excessive worry",
                    false,
                    objective(
                        "Client will reduce frequency and intensity of excessive worry as evidenced by 50% score improvement on Penn State Worry Questionnaire.",
                        62.0,
                        31.0,
                        "PSWQ total score",
                        "",
                    ),
                ),
                goal(
                    "Learn and practice relaxation techniques",
                    false,
                    objective(
                        "Client will learn and practice relaxation techniques (e.g., deep breathing, progressive muscle relaxation) from 0 times per day to 1 times per day.",
                        0.0,
                        1.0,
                        "relaxation practices",
                        "day",
                    ),
                ),
                goal(
                    "Sleep through the night",
                    false,
                    objective(
                        "Client will increase sleeping through the night from 0 times per week to 2 times per week.",
                        0.0,
                        2.0,
                        "nights slept through",
                        "week",
                    ),
                ),
                goal(
                    "Achieve and maintain 60-70% reduction in anxiety symptoms as measured by GAD-7.",
                    true,
                    objective(
                        "GAD-7 total reduced from 15 to 5 (about 67%).",
                        15.0,
                        5.0,
                        "GAD-7 total score",
                        "",
                    ),
                ),
                goal(
                    "Develop and implement healthy coping strategies to manage future stressors.",
                    true,
                    None,
                ),
                goal(
                    "Improve quality of life, including interpersonal relationships and work performance.",
                    true,
                    None,
                ),
            ],
        },
        SeedPlan {
            key: "doug-mcgee",
            intake_review: true,
            // Comorbid: "Alcohol Abuse" in the article's plan.
            diagnoses: &["F32.1", "F10.10"],
            narrative: "The client presented to treatment reporting symptoms of low mood, negative self-talk, low motivation, poor appetite, and poor sleep. He stated he is currently getting 4-5 hours per night, whereas his typical baseline is 7-8 hours per night. The client reported his symptoms began approximately one month ago when he retired from his career as a machinist in a factory. He stated he has had low periods in his life but noted no previous history of experiencing depressive symptoms of this severity. The client endorsed passive suicidal ideation, stating he has thoughts of falling asleep and not waking up but denied having a plan, means, or intent to self-harm. The client stated he has been drinking more frequently in the past month - 3-4 beers per day whereas typically he would have only 3-4 beers per week. The client lives alone and has few social supports outside of his two children who live in different states.",
            symptoms: &[
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
            ],
            interventions: &[
                (
                    pb::Modality::Cbt,
                    "Cognitive Restructuring: identify, challenge, and reframe irrational thoughts and black-and-white thinking into more balanced perspectives.",
                    "weekly sessions",
                    &[0, 4],
                ),
                (
                    pb::Modality::BehaviouralActivation,
                    "Encourage activities that reduce avoidance, increase participation in a routine, and increase positive reinforcement, such as socializing or hobbies.",
                    "weekly sessions",
                    &[1, 6],
                ),
                (
                    pb::Modality::RelaxationTraining,
                    "Teach mindfulness and relaxation techniques (deep breathing, progressive muscle relaxation, mindfulness meditation).",
                    "daily practice",
                    &[5],
                ),
                (
                    pb::Modality::Psychoeducation,
                    "Educate on the nature of depression and normalize emotional difficulties around life transitions such as retirement; psychoeducation on relaxation techniques as alternatives to alcohol.",
                    "early sessions",
                    &[4, 3],
                ),
                (
                    pb::Modality::Act,
                    "Embrace thoughts and feelings rather than fighting them, while committing to actions that align with core values.",
                    "weekly sessions",
                    &[6],
                ),
                (
                    pb::Modality::SleepHygiene,
                    "Establish a regular sleep routine and promote healthy sleep habits.",
                    "nightly",
                    &[2],
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
            client_id: "client-doug-mcgee",
            title: "Major Depressive Disorder, Single Episode, Moderate - Doug McGee, 67",
            goals: vec![
                goal(
                    "Decrease thoughts related to suicidal ideation",
                    false,
                    objective(
                        "Client will decrease thoughts related to suicidal ideation from 2-3 times per day to 0 times per day.",
                        3.0,
                        0.0,
                        "thoughts of suicidal ideation",
                        "day",
                    ),
                ),
                goal(
                    "Engage in social activity outside the house",
                    false,
                    objective(
                        "Client will engage in a social activity outside the house from 0 times per week to 1 time per week.",
                        0.0,
                        1.0,
                        "social activities",
                        "week",
                    ),
                ),
                goal(
                    "Sleep through the night",
                    false,
                    objective(
                        "Client will increase sleeping through the night from 4-5 hours per night to 7-8 hours per night.",
                        4.5,
                        7.5,
                        "hours of sleep",
                        "night",
                    ),
                ),
                goal(
                    "Decrease alcohol use",
                    false,
                    objective(
                        "Client will decrease alcohol use from 3-4 beers per day to 3-4 beers per week.",
                        24.5,
                        3.5,
                        "beers",
                        "week",
                    ),
                ),
                goal(
                    "Achieve and maintain 60-70% reduction in depressive symptoms as measured by PHQ-9.",
                    true,
                    objective(
                        "PHQ-9 total reduced from 14 to 5 (about 64%).",
                        14.0,
                        5.0,
                        "PHQ-9 total score",
                        "",
                    ),
                ),
                goal(
                    "Develop and implement healthy coping strategies, such as exercise and deep breathing, to manage stressors.",
                    true,
                    None,
                ),
                goal(
                    "Improve quality of life, including engaging in interpersonal relationships, joining a community group, planning travel to visit his kids, and returning to his hobby of woodworking.",
                    true,
                    None,
                ),
            ],
        },
    ]
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let tenant = TenantId::parse(&args.tenant).context("--tenant")?;
    let issuer = TokenIssuer::hs256(args.secret.jwt_secret.as_bytes())?;
    let token = issuer.issue(
        &Caller {
            tenant: tenant.clone(),
            subject: CLINICIAN.into(),
            roles: vec![Role::Clinician],
            clinics: vec![CLINIC.into()],
        },
        Duration::hours(12),
    )?;
    let endpoint = if args.grpc_addr.starts_with("http") {
        args.grpc_addr.clone()
    } else {
        format!("http://{}", args.grpc_addr)
    };
    let channel = Endpoint::from_shared(endpoint)?
        .connect()
        .await
        .with_context(|| {
            format!(
                "cannot reach trellis at {}; is `trellis serve` running?",
                args.grpc_addr
            )
        })?;
    let bearer: MetadataValue<_> = format!("Bearer {token}").parse()?;
    let mut client =
        PlanServiceClient::with_interceptor(channel, move |mut req: tonic::Request<()>| {
            req.metadata_mut().insert("authorization", bearer.clone());
            Ok(req)
        });

    let today = Utc::now().date_naive();
    for plan in seed_plans() {
        let plan_id = load_plan(&mut client, &tenant, &plan, today).await?;
        say!("{}: plan {plan_id}", plan.key);
    }
    say!("token (clinician {CLINICIAN}, tenant {tenant}): {token}");
    Ok(())
}

async fn load_plan<S>(
    client: &mut PlanServiceClient<S>,
    tenant: &TenantId,
    plan: &SeedPlan,
    today: NaiveDate,
) -> anyhow::Result<String>
where
    S: tonic::client::GrpcService<tonic::body::Body>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResponseBody: tonic::transport::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <S::ResponseBody as tonic::transport::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    let id = |name: &str| {
        Uuid::new_v5(
            &DEMO_NAMESPACE,
            format!("{tenant}/{}/{name}", plan.key).as_bytes(),
        )
        .to_string()
    };
    let created = client
        .create_plan(pb::CreatePlanRequest {
            command_id: id("create"),
            plan_id: String::new(),
            client_id: plan.client_id.into(),
            primary_clinician_id: CLINICIAN.into(),
            clinic_id: CLINIC.into(),
            title: plan.title.into(),
            payer: String::new(),
        })
        .await
        .context("CreatePlan")?
        .into_inner();
    let plan_id = created.plan_id;
    let mut goal_ids = Vec::new();
    for (g, goal) in plan.goals.iter().enumerate() {
        let added = client
            .add_goal(pb::AddGoalRequest {
                command_id: id(&format!("goal-{g}")),
                plan_id: plan_id.clone(),
                goal_id: String::new(),
                description: goal.description.into(),
                term: if goal.long_term {
                    pb::GoalTerm::LongTerm
                } else {
                    pb::GoalTerm::ShortTerm
                } as i32,
            })
            .await
            .context("AddGoal")?
            .into_inner();
        goal_ids.push(added.entity_id.clone());
        let Some(o) = &goal.objective else { continue };
        let months = if goal.long_term { 12 } else { 3 };
        let target_date = today
            .checked_add_months(chrono::Months::new(months))
            .expect("date in range");
        let objective = client
            .add_objective(pb::AddObjectiveRequest {
                command_id: id(&format!("objective-{g}")),
                plan_id: plan_id.clone(),
                objective_id: String::new(),
                goal_id: added.entity_id,
                description: o.description.into(),
                quantity: Some(pb::Quantity {
                    baseline: Some(o.baseline),
                    target: Some(o.target),
                    unit: o.unit.into(),
                    period: o.period.into(),
                }),
                target_date: target_date.to_string(),
                measure: None,
            })
            .await
            .context("AddObjective")?
            .into_inner();
        // A first measurement at baseline, as recorded at intake.
        client
            .record_objective_progress(pb::RecordObjectiveProgressRequest {
                command_id: id(&format!("progress-{g}")),
                plan_id: plan_id.clone(),
                objective_id: objective.entity_id,
                value: o.baseline,
                observed_on: today.to_string(),
                source: pb::ProgressSource::Clinician as i32,
                note: "Baseline at intake".into(),
            })
            .await
            .context("RecordObjectiveProgress")?;
    }
    for (n, code) in plan.diagnoses.iter().enumerate() {
        client
            .add_diagnosis(pb::AddDiagnosisRequest {
                command_id: id(&format!("diagnosis-{n}")),
                plan_id: plan_id.clone(),
                code: (*code).into(),
                primary: n == 0,
            })
            .await
            .context("AddDiagnosis")?;
    }
    client
        .record_presenting_problem(pb::RecordPresentingProblemRequest {
            command_id: id("presenting-problem"),
            plan_id: plan_id.clone(),
            narrative: plan.narrative.into(),
            symptoms: plan
                .symptoms
                .iter()
                .map(|(name, frequency, intensity, onset)| pb::Symptom {
                    name: (*name).into(),
                    frequency: (*frequency).into(),
                    intensity: (*intensity).into(),
                    onset: (*onset).into(),
                })
                .collect(),
        })
        .await
        .context("RecordPresentingProblem")?;
    for (n, (modality, technique, frequency, goals)) in plan.interventions.iter().enumerate() {
        client
            .add_intervention(pb::AddInterventionRequest {
                command_id: id(&format!("intervention-{n}")),
                plan_id: plan_id.clone(),
                intervention_id: String::new(),
                modality: *modality as i32,
                other_modality: String::new(),
                technique: (*technique).into(),
                frequency: (*frequency).into(),
                goal_ids: goals.iter().map(|g| goal_ids[*g].clone()).collect(),
                comorbidity: String::new(),
            })
            .await
            .context("AddIntervention")?;
    }
    client
        .record_safety_plan(pb::RecordSafetyPlanRequest {
            command_id: id("safety-plan"),
            plan_id: plan_id.clone(),
            warning_signs: plan.warning_signs.iter().map(|s| (*s).into()).collect(),
            coping_steps: plan.coping_steps.iter().map(|s| (*s).into()).collect(),
            contacts: plan
                .contacts
                .iter()
                .map(|(name, relationship, phone)| pb::CrisisContact {
                    name: (*name).into(),
                    relationship: (*relationship).into(),
                    phone: (*phone).into(),
                })
                .collect(),
            crisis_lines: CRISIS_LINES.iter().map(|s| (*s).into()).collect(),
        })
        .await
        .context("RecordSafetyPlan")?;
    if plan.intake_review {
        // The plan was gone through with the client at intake.
        let intake = client
            .schedule_review(pb::ScheduleReviewRequest {
                command_id: id("review-intake"),
                plan_id: plan_id.clone(),
                review_id: String::new(),
                due_on: today.to_string(),
            })
            .await
            .context("ScheduleReview")?
            .into_inner();
        client
            .hold_review(pb::HoldReviewRequest {
                command_id: id("review-intake-held"),
                plan_id: plan_id.clone(),
                review_id: intake.entity_id,
                held_on: today.to_string(),
                participants: vec![CLINICIAN.into(), plan.client_id.into()],
                summary: "Plan reviewed with the client at intake; safety plan and crisis lines \
                          gone through. Continue as planned."
                    .into(),
                decision: pb::ReviewDecision::Continue as i32,
            })
            .await
            .context("HoldReview")?;
    }
    // "Progress will be reviewed every 4-6 weeks."
    client
        .schedule_review(pb::ScheduleReviewRequest {
            command_id: id("review-1"),
            plan_id: plan_id.clone(),
            review_id: String::new(),
            due_on: (today + Duration::weeks(6)).to_string(),
        })
        .await
        .context("ScheduleReview")?;
    Ok(plan_id)
}
