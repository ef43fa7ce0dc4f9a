//! Sends one seed plan through the gRPC API: made from its template,
//! completed, consented to, signed and activated.

use anyhow::Context;
use chrono::{Months, NaiveDate};
use trellis_plans_domain::{PlanId, child_id};
use trellis_proto::plans::v1 as pb;
use uuid::Uuid;

use super::cast::{CLINIC, CLINICIAN, Cast};
use super::seed::{Completion, SeedPlan};

const DEMO_NAMESPACE: Uuid = Uuid::from_u128(0x3e83_1fe6_1c28_4e02_9a5f_0d3c_7b1e_aa01);

const CRISIS_LINES: &[&str] = &["988 Suicide & Crisis Lifeline (call or text 988)"];

pub(super) async fn load_plan(
    cast: &mut Cast,
    plan: &SeedPlan,
    today: NaiveDate,
) -> anyhow::Result<String> {
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
