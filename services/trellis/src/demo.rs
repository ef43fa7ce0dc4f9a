//! `trellis demo`: the seed's two example plans (Emma Lee, GAD; Doug McGee,
//! MDD), made from the built-in templates and completed with each client's
//! own picture, sent through the gRPC API like any clinic app would: an
//! admin sets the review rule, the clinician writes and signs, the client
//! consents and signs, a supervisor co-signs, and the plan is activated.
//!
//! Command ids are derived from the tenant and a fixed name, so running the
//! demo twice changes nothing the second time.

use anyhow::Context;
use chrono::{Duration, Months, NaiveDate, Utc};
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use trellis_auth::{Caller, Role, TokenIssuer};
use trellis_kernel::TenantId;
use trellis_plans_domain::{PlanId, child_id};
use trellis_proto::plans::v1 as pb;
use trellis_proto::plans::v1::plan_service_client::PlanServiceClient;
use uuid::Uuid;

use crate::DemoArgs;

const CLINICIAN: &str = "dr-rivera";
const SUPERVISOR: &str = "dr-okafor";
const ADMIN: &str = "clinic-it";
const CLINIC: &str = "main-street";
const DEMO_NAMESPACE: Uuid = Uuid::from_u128(0x3e83_1fe6_1c28_4e02_9a5f_0d3c_7b1e_aa01);
/// "Progress will be reviewed every 4-6 weeks": the tenant's default rule.
const REVIEW_INTERVAL_DAYS: u32 = 42;

/// How the clinician completes one of the template's objective
/// placeholders, in template order.
enum Completion {
    /// The client's own wording and numbers, due in `months`.
    Quantity {
        description: &'static str,
        baseline: f64,
        target: f64,
        months: u32,
    },
    /// Measured by a questionnaire: only the date is the client's.
    Measure { months: u32 },
}

/// A questionnaire at intake: item answers, or a total.
struct Intake {
    instrument: pb::Instrument,
    answers: &'static [u32],
    total: Option<u32>,
}

struct SeedPlan {
    key: &'static str,
    template_id: &'static str,
    client_id: &'static str,
    title: &'static str,
    payer: &'static str,
    /// ICD-10-CM codes, the primary first.
    diagnoses: &'static [&'static str],
    /// The presenting problem as the article gives it, and its symptoms
    /// (name, frequency, intensity, onset).
    narrative: &'static str,
    symptoms: &'static [(&'static str, &'static str, &'static str, &'static str)],
    intake_measures: &'static [Intake],
    completions: Vec<Completion>,
    strengths: &'static [&'static str],
    barriers: &'static [&'static str],
    supports: &'static [(pb::SupportKind, &'static str)],
    /// (to, reason, status)
    referrals: &'static [(&'static str, &'static str, pb::ReferralStatus)],
    warning_signs: &'static [&'static str],
    coping_steps: &'static [&'static str],
    /// (name, relationship, phone)
    contacts: &'static [(&'static str, &'static str, &'static str)],
    /// Whether the plan was gone through with the client at an intake review.
    intake_review: bool,
    /// Whether a supervisor co-signs (a pre-licensed clinician's plan, or a
    /// client with suicidal ideation).
    supervisor_cosigns: bool,
    /// Template goals reworded for this client: (goal index, wording).
    personal_goals: &'static [(usize, &'static str)],
}

const CRISIS_LINES: &[&str] = &["988 Suicide & Crisis Lifeline (call or text 988)"];

fn seed_plans() -> Vec<SeedPlan> {
    vec![
        SeedPlan {
            key: "emma-lee",
            template_id: "builtin-gad",
            client_id: "client-emma-lee",
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
        },
        SeedPlan {
            key: "doug-mcgee",
            template_id: "builtin-mdd",
            client_id: "client-doug-mcgee",
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
        },
    ]
}

const EMMA_NARR: &str = "The client reported excessive, uncontrollable worry about a variety of topics (work, health, relationships, etc.), occurring more days than not for at least six months. They stated they have experienced anxiety and worry for as long as they can remember, starting in childhood. Symptoms reported include physical tension, restlessness, irritability, difficulty concentrating, and sleep disturbances, including waking multiple times in the middle of the night and having difficulty getting back to sleep. The client reported low mood at times.";

const DOUG_NARR: &str = "The client presented to treatment reporting symptoms of low mood, negative self-talk, low motivation, poor appetite, and poor sleep. He stated he is currently getting 4-5 hours per night, whereas his typical baseline is 7-8 hours per night. The client reported his symptoms began approximately one month ago when he retired from his career as a machinist in a factory. He stated he has had low periods in his life but noted no previous history of experiencing depressive symptoms of this severity. The client endorsed passive suicidal ideation, stating he has thoughts of falling asleep and not waking up but denied having a plan, means, or intent to self-harm. The client stated he has been drinking more frequently in the past month - 3-4 beers per day whereas typically he would have only 3-4 beers per week. The client lives alone and has few social supports outside of his two children who live in different states.";

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

/// Puts one caller's bearer token on every request.
type Bearer =
    Box<dyn FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Send>;
type Client = PlanServiceClient<tonic::service::interceptor::InterceptedService<Channel, Bearer>>;

/// A client acting as `caller`, by bearer token.
fn client_as(
    channel: &Channel,
    issuer: &TokenIssuer,
    caller: Caller,
) -> anyhow::Result<(Client, String)> {
    let token = issuer.issue(&caller, Duration::hours(12))?;
    let bearer: MetadataValue<_> = format!("Bearer {token}").parse()?;
    let intercept: Bearer = Box::new(move |mut req: tonic::Request<()>| {
        req.metadata_mut().insert("authorization", bearer.clone());
        Ok(req)
    });
    Ok((
        PlanServiceClient::with_interceptor(channel.clone(), intercept),
        token,
    ))
}

/// The people the demo acts as.
struct Cast {
    clinician: Client,
    supervisor: Client,
    admin: Client,
    channel: Channel,
    issuer: TokenIssuer,
    tenant: TenantId,
}

/// Someone of the demo clinic, in one role.
fn member(tenant: &TenantId, subject: &str, role: Role) -> Caller {
    Caller {
        tenant: tenant.clone(),
        subject: subject.into(),
        roles: vec![role],
        clinics: vec![CLINIC.into()],
    }
}

impl Cast {
    fn client_of(&self, plan: &SeedPlan) -> anyhow::Result<Client> {
        let caller = Caller {
            clinics: Vec::new(),
            ..member(&self.tenant, plan.client_id, Role::Client)
        };
        Ok(client_as(&self.channel, &self.issuer, caller)?.0)
    }
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let tenant = TenantId::parse(&args.tenant).context("--tenant")?;
    let issuer = TokenIssuer::hs256(args.secret.jwt_secret.as_bytes())?;
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
    let (clinician, token) = client_as(
        &channel,
        &issuer,
        member(&tenant, CLINICIAN, Role::Clinician),
    )?;
    let (supervisor, _) = client_as(
        &channel,
        &issuer,
        member(&tenant, SUPERVISOR, Role::Supervisor),
    )?;
    let (admin, _) = client_as(&channel, &issuer, member(&tenant, ADMIN, Role::Admin))?;
    let mut cast = Cast {
        clinician,
        supervisor,
        admin,
        channel,
        issuer,
        tenant: tenant.clone(),
    };

    // "Progress will be reviewed every 4-6 weeks."
    let rules = cast
        .admin
        .get_review_rules(pb::GetReviewRulesRequest {})
        .await
        .context("GetReviewRules")?
        .into_inner();
    if !rules
        .rules
        .iter()
        .any(|r| r.payer.is_empty() && r.interval_days == REVIEW_INTERVAL_DAYS)
    {
        cast.admin
            .set_review_rule(pb::SetReviewRuleRequest {
                payer: String::new(),
                interval_days: REVIEW_INTERVAL_DAYS,
            })
            .await
            .context("SetReviewRule")?;
    }

    let today = Utc::now().date_naive();
    for plan in seed_plans() {
        let plan_id = load_plan(&mut cast, &plan, today).await?;
        say!("{}: plan {plan_id}", plan.key);
    }
    say!("token (clinician {CLINICIAN}, tenant {tenant}): {token}");
    Ok(())
}

async fn load_plan(cast: &mut Cast, plan: &SeedPlan, today: NaiveDate) -> anyhow::Result<String> {
    let tenant = &cast.tenant;
    let id = |name: &str| {
        Uuid::new_v5(
            &DEMO_NAMESPACE,
            format!("{tenant}/{}/{name}", plan.key).as_bytes(),
        )
        .to_string()
    };
    let c = &mut cast.clinician;
    let created = c
        .create_plan_from_template(pb::CreatePlanFromTemplateRequest {
            plan: Some(pb::CreatePlanRequest {
                command_id: id("create"),
                plan_id: String::new(),
                client_id: plan.client_id.into(),
                primary_clinician_id: CLINICIAN.into(),
                clinic_id: CLINIC.into(),
                title: plan.title.into(),
                payer: plan.payer.into(),
            }),
            template_id: plan.template_id.into(),
        })
        .await
        .context("CreatePlanFromTemplate")?
        .into_inner();
    let plan_id = created.plan_id;
    let plan_uuid = PlanId(Uuid::parse_str(&plan_id)?);
    for (n, wording) in plan.personal_goals {
        c.revise_goal(pb::ReviseGoalRequest {
            command_id: id(&format!("personal-goal-{n}")),
            plan_id: plan_id.clone(),
            goal_id: child_id(plan_uuid, "goal", *n).to_string(),
            description: (*wording).into(),
            reason: "Template goal made the client's own at intake".into(),
        })
        .await
        .context("ReviseGoal")?;
    }
    for (n, code) in plan.diagnoses.iter().enumerate() {
        c.add_diagnosis(pb::AddDiagnosisRequest {
            command_id: id(&format!("diagnosis-{n}")),
            plan_id: plan_id.clone(),
            code: (*code).into(),
            primary: n == 0,
        })
        .await
        .context("AddDiagnosis")?;
    }
    c.record_presenting_problem(pb::RecordPresentingProblemRequest {
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
    // Baselines at intake: the scores measure-based objectives start from.
    for (n, intake) in plan.intake_measures.iter().enumerate() {
        let measure_id = id(&format!("intake-measure-{n}"));
        c.record_measure(pb::RecordMeasureRequest {
            command_id: id(&format!("intake-measure-{n}-cmd")),
            plan_id: plan_id.clone(),
            measure_id: measure_id.clone(),
            instrument: intake.instrument as i32,
            answers: intake.answers.to_vec(),
            total: intake.total,
            administered_on: today.to_string(),
            source: pb::ProgressSource::Clinician as i32,
        })
        .await
        .context("RecordMeasure")?;
        if intake.instrument == pb::Instrument::Phq9 && intake.answers.get(8) > Some(&0) {
            // The flag the answer raised, seen and addressed at intake.
            c.acknowledge_safety_flag(pb::AcknowledgeSafetyFlagRequest {
                command_id: id(&format!("intake-measure-{n}-ack")),
                plan_id: plan_id.clone(),
                flag_id: measure_id,
                note: "Passive ideation without plan, means or intent; safety plan made at \
                       intake."
                    .into(),
            })
            .await
            .context("AcknowledgeSafetyFlag")?;
        }
    }
    for (n, completion) in plan.completions.iter().enumerate() {
        let (description, quantity, months) = match completion {
            Completion::Quantity {
                description,
                baseline,
                target,
                months,
            } => (
                (*description).to_owned(),
                Some(pb::Quantity {
                    baseline: Some(*baseline),
                    target: Some(*target),
                    unit: String::new(),
                    period: String::new(),
                }),
                *months,
            ),
            Completion::Measure { months } => (String::new(), None, *months),
        };
        let target_date = today
            .checked_add_months(Months::new(months))
            .expect("date in range");
        // The template's n-th objective placeholder.
        let objective_id = child_id(plan_uuid, "objective", n).to_string();
        let completed = c
            .complete_objective(pb::CompleteObjectiveRequest {
                command_id: id(&format!("objective-{n}")),
                plan_id: plan_id.clone(),
                objective_id: objective_id.clone(),
                description,
                quantity: quantity.clone(),
                target_date: target_date.to_string(),
            })
            .await
            .context("CompleteObjective")?
            .into_inner();
        if let Some(q) = quantity {
            // A first measurement at baseline, as recorded at intake.
            c.record_objective_progress(pb::RecordObjectiveProgressRequest {
                command_id: id(&format!("progress-{n}")),
                plan_id: plan_id.clone(),
                objective_id: completed.entity_id,
                value: q.baseline.unwrap_or_default(),
                observed_on: today.to_string(),
                source: pb::ProgressSource::Clinician as i32,
                note: "Baseline at intake".into(),
            })
            .await
            .context("RecordObjectiveProgress")?;
        }
    }
    c.record_clinical_context(pb::RecordClinicalContextRequest {
        command_id: id("clinical-context"),
        plan_id: plan_id.clone(),
        strengths: plan.strengths.iter().map(|s| (*s).into()).collect(),
        barriers: plan.barriers.iter().map(|s| (*s).into()).collect(),
        supports: plan
            .supports
            .iter()
            .map(|(kind, involvement)| pb::Support {
                kind: *kind as i32,
                involvement: (*involvement).into(),
            })
            .collect(),
    })
    .await
    .context("RecordClinicalContext")?;
    for (n, (to, reason, status)) in plan.referrals.iter().enumerate() {
        c.add_referral(pb::AddReferralRequest {
            command_id: id(&format!("referral-{n}")),
            plan_id: plan_id.clone(),
            referral_id: String::new(),
            to: (*to).into(),
            reason: (*reason).into(),
            status: *status as i32,
        })
        .await
        .context("AddReferral")?;
    }
    c.record_safety_plan(pb::RecordSafetyPlanRequest {
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
    c.record_consent(pb::RecordConsentRequest {
        command_id: id("consent"),
        plan_id: plan_id.clone(),
        kind: pb::ConsentKind::Treatment as i32,
        given_on: today.to_string(),
        note: String::new(),
    })
    .await
    .context("RecordConsent")?;
    if plan.intake_review {
        // The plan was gone through with the client at intake; holding the
        // review schedules the next one by the tenant's rule.
        let intake = c
            .schedule_review(pb::ScheduleReviewRequest {
                command_id: id("review-intake"),
                plan_id: plan_id.clone(),
                review_id: String::new(),
                due_on: today.to_string(),
            })
            .await
            .context("ScheduleReview")?
            .into_inner();
        c.hold_review(pb::HoldReviewRequest {
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
    let sign = |role: pb::SignerRole, name: &str| pb::SignPlanRequest {
        command_id: id(name),
        plan_id: plan_id.clone(),
        role: role as i32,
    };
    c.sign_plan(sign(pb::SignerRole::Clinician, "sign-clinician"))
        .await
        .context("SignPlan (clinician)")?;
    cast.client_of(plan)?
        .sign_plan(sign(pb::SignerRole::Client, "sign-client"))
        .await
        .context("SignPlan (client)")?;
    if plan.supervisor_cosigns {
        cast.supervisor
            .sign_plan(sign(pb::SignerRole::Supervisor, "sign-supervisor"))
            .await
            .context("SignPlan (supervisor)")?;
    }
    cast.clinician
        .activate_plan(pb::ActivatePlanRequest {
            command_id: id("activate"),
            plan_id: plan_id.clone(),
        })
        .await
        .context("ActivatePlan")?;
    Ok(plan_id)
}
