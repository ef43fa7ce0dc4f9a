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
}

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
        println!("{}: plan {plan_id}", plan.key);
    }
    println!("token (clinician {CLINICIAN}, tenant {tenant}): {token}");
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
        })
        .await
        .context("CreatePlan")?
        .into_inner();
    let plan_id = created.plan_id;
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
