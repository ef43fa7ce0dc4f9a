//! The plan page: every section of a plan in the order the seed article
//! writes one (client and diagnosis, presenting problem, goals and
//! objectives, interventions, expected duration, progress monitoring with
//! measure charts, crisis plan, reviews), then context, referrals,
//! consents and signatures — with the forms a clinician or client uses.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use trellis_auth::Role;
use trellis_plans_domain::Instrument;

use super::chart::{LineChart, Mark, Point, trim};
use super::filters;
use super::forms::{FormError, MeasureForm, measure_forms};
use super::graphql::{Failure, Visit};
use super::pages::{Layout, failed, html};
use super::plan_view::{PLAN_FIELDS, PlanView, Review, date};
use super::staff::{Staff, directory};
use super::state::Console;

#[derive(Debug, Deserialize)]
struct Answer {
    plan: Option<PlanView>,
}

/// One instrument's chart and the table beside it.
pub(crate) struct MeasureChart {
    pub(crate) label: &'static str,
    pub(crate) anchor: &'static str,
    pub(crate) svg: String,
    pub(crate) target: Option<String>,
}

/// One objective's progress chart.
pub(crate) struct ObjectiveChart {
    pub(crate) objective_id: String,
    pub(crate) svg: String,
}

/// What the signed-in user may do on the page (the API decides; the page
/// only leaves out forms that would certainly be refused).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Abilities {
    pub(crate) record: bool,
    pub(crate) review: bool,
    pub(crate) acknowledge: bool,
    /// The role to sign in, as the API's `SignerRole`.
    pub(crate) sign_as: Option<&'static str>,
}

impl Abilities {
    /// Reading only: an auditor's view, or a plan as it was.
    const NONE: Self = Self {
        record: false,
        review: false,
        acknowledge: false,
        sign_as: None,
    };

    fn of(visit: &Visit) -> Self {
        let caller = &visit.session.caller;
        let clinician = caller.has_role(Role::Clinician);
        let client = caller.has_role(Role::Client);
        let supervisor = caller.has_role(Role::Supervisor);
        Self {
            record: clinician || client,
            review: clinician,
            acknowledge: clinician || supervisor,
            sign_as: if clinician {
                Some("CLINICIAN")
            } else if client {
                Some("CLIENT")
            } else if supervisor {
                Some("SUPERVISOR")
            } else {
                None
            },
        }
    }
}

#[derive(Template)]
#[template(path = "console/plan.html")]
pub(crate) struct PlanPage {
    pub(crate) layout: Layout,
    pub(crate) plan: PlanView,
    pub(crate) measure_charts: Vec<MeasureChart>,
    pub(crate) objective_charts: Vec<ObjectiveChart>,
    pub(crate) measure_forms: Vec<MeasureForm>,
    pub(crate) can: Abilities,
    /// Links to the plan's timeline and access log.
    pub(crate) auditor: bool,
    /// The as-of banner; empty for the current plan.
    pub(crate) as_of: String,
    pub(crate) error: Option<FormError>,
    pub(crate) notice: &'static str,
    pub(crate) today: String,
    /// Names this rendering: each form's command id is derived from it,
    /// so a form sent twice is one command, and two forms are two.
    pub(crate) rendering: uuid::Uuid,
    pub(crate) staff: Staff,
}

impl PlanPage {
    /// A member of staff as the staff directory names them.
    fn person(&self, subject: &str) -> String {
        self.staff.line(subject)
    }

    /// The role the user would sign the version in force in, when it
    /// still needs that signature (a supervisor co-signs once).
    fn may_sign(&self) -> Option<&'static str> {
        let role = self.can.sign_as?;
        let needed = if role == "SUPERVISOR" {
            !self
                .plan
                .signatures
                .iter()
                .any(|s| s.version == self.plan.plan_version && s.role == role)
        } else {
            self.plan.pending_signatures.iter().any(|r| r == role)
        };
        needed.then_some(role)
    }

    fn command_for(&self, form: impl AsRef<str>) -> String {
        uuid::Uuid::new_v5(&self.rendering, form.as_ref().as_bytes()).to_string()
    }

    fn refusal_for(&self, form: impl AsRef<str>) -> Option<&FormError> {
        self.error.as_ref().filter(|e| e.form == form.as_ref())
    }

    /// Whether the refused form `form` was sent with `name` = `value`.
    fn kept(&self, form: impl AsRef<str>, name: impl AsRef<str>, value: impl ToString) -> bool {
        let value = value.to_string();
        self.refusal_for(form).is_some_and(|e| {
            e.sent
                .iter()
                .any(|(k, v)| k == name.as_ref() && *v == value)
        })
    }

    /// The value the refused form `form` was sent with for `name`.
    fn sent(&self, form: impl AsRef<str>, name: impl AsRef<str>) -> &str {
        self.refusal_for(form)
            .and_then(|e| e.sent.iter().find(|(k, _)| k == name.as_ref()))
            .map_or("", |(_, v)| v.as_str())
    }

    fn num(&self, value: impl Number) -> String {
        trim(value.number())
    }

    fn objective_chart(&self, objective_id: &str) -> Option<&ObjectiveChart> {
        self.objective_charts
            .iter()
            .find(|c| c.objective_id == objective_id)
    }

    fn next_review(&self) -> Option<&Review> {
        self.plan
            .reviews
            .iter()
            .filter(|r| !r.held && r.entered_in_error.is_none())
            .min_by(|a, b| a.due_on.cmp(&b.due_on))
    }
}

/// A number however deeply the template borrowed it.
trait Number {
    fn number(&self) -> f64;
}

impl Number for f64 {
    fn number(&self) -> f64 {
        *self
    }
}

impl<T: Number + ?Sized> Number for &T {
    fn number(&self) -> f64 {
        (**self).number()
    }
}

/// A chart per instrument the plan has scores for, oldest score first;
/// the target from the first objective that asks for a reduction.
fn measure_charts(plan: &PlanView) -> Vec<MeasureChart> {
    plan.measure_line_charts()
        .into_iter()
        .map(|(instrument, chart)| MeasureChart {
            label: instrument.label(),
            anchor: match instrument {
                Instrument::Phq9 => "phq9",
                Instrument::Gad7 => "gad7",
                Instrument::Pswq => "pswq",
            },
            target: chart.target.map(trim),
            svg: chart.svg(),
        })
        .collect()
}

fn objective_charts(plan: &PlanView) -> Vec<ObjectiveChart> {
    plan.goals
        .iter()
        .flat_map(|g| &g.objectives)
        .filter(|o| !o.progress.is_empty())
        .map(|o| {
            let points = o
                .progress
                .iter()
                .filter_map(|p| {
                    Some(Point {
                        on: date(&p.observed_on)?,
                        value: p.value,
                        mark: Mark::Plain,
                    })
                })
                .collect();
            let title = format!("Progress in {} per {}", o.unit, o.period);
            ObjectiveChart {
                objective_id: o.id.clone(),
                svg: LineChart::objective(title, points, o.baseline, o.target).svg(),
            }
        })
        .collect()
}

/// Which plan a page shows: the current one, or (for auditors) the plan as
/// it stood at a version or a time.
#[derive(Debug, Clone, Default)]
pub(crate) enum Which {
    #[default]
    Current,
    AsOf {
        version: Option<i64>,
        at: Option<String>,
    },
}

impl Which {
    fn query(&self) -> (String, serde_json::Value) {
        match self {
            Self::Current => (
                format!("query ConsolePlan($id: ID!) {{ plan(id: $id) {{ {PLAN_FIELDS} }} }}"),
                serde_json::json!({}),
            ),
            Self::AsOf { version, at } => (
                format!(
                    "query ConsolePlanAsOf($id: ID!, $version: Int, $at: String) \
                     {{ plan: planAsOf(id: $id, version: $version, at: $at) {{ {PLAN_FIELDS} }} }}"
                ),
                serde_json::json!({ "version": version, "at": at }),
            ),
        }
    }

    /// The banner of an as-of page; empty for the current plan.
    fn banner(&self, plan: &PlanView) -> String {
        match self {
            Self::Current => String::new(),
            Self::AsOf { at: Some(at), .. } => format!(
                "As it stood at {at} (version {}), read from the event history.",
                plan.version
            ),
            Self::AsOf { .. } => format!(
                "As it stood at version {}, read from the event history.",
                plan.version
            ),
        }
    }
}

/// Renders the page for `plan_id`, with a refused form's reason when
/// there is one. A plan as of a version has no forms.
pub(crate) async fn render(
    console: &Console,
    visit: &Visit,
    plan_id: &str,
    which: Which,
    error: Option<FormError>,
    notice: &'static str,
) -> Response {
    let (query, mut variables) = which.query();
    variables["id"] = serde_json::json!(plan_id);
    let label = match which {
        Which::Current => "plan",
        Which::AsOf { .. } => "plan-as-of",
    };
    let answer = console.run::<Answer>(visit, label, &query, variables).await;
    let plan = match answer {
        Ok(Answer { plan: Some(plan) }) => plan,
        Ok(Answer { plan: None }) => {
            let failure = Failure::new("NOT_FOUND", "no such plan, or not one you may see");
            return failed(visit, &failure);
        }
        Err(failure) => return failed(visit, &failure),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let as_of = which.banner(&plan);
    let staff = directory(console, visit, label).await;
    let can = if as_of.is_empty() {
        Abilities::of(visit)
    } else {
        Abilities::NONE
    };
    let page = PlanPage {
        layout: Layout::signed_in(plan.title.clone(), visit),
        measure_charts: measure_charts(&plan),
        objective_charts: objective_charts(&plan),
        measure_forms: measure_forms(),
        can,
        auditor: visit.session.caller.has_role(Role::Auditor),
        as_of,
        plan,
        error,
        notice,
        today: chrono::Utc::now().date_naive().to_string(),
        rendering: uuid::Uuid::new_v4(),
        staff,
    };
    html(status, &page)
}

#[derive(Debug, Deserialize)]
pub(crate) struct Shown {
    #[serde(default)]
    saved: Option<String>,
}

pub(crate) async fn page(
    State(console): State<Console>,
    visit: Visit,
    Path(id): Path<String>,
    axum::extract::Query(shown): axum::extract::Query<Shown>,
) -> Response {
    let notice = if shown.saved.is_some() { "Saved." } else { "" };
    render(&console, &visit, &id, Which::Current, None, notice).await
}
