//! Outcome rates over the plans the caller may read: now (`outcomes`) and
//! at the end of each past month (`outcomeHistory`), from the compact
//! plan summaries the read side keeps.

use async_graphql::{Context, Object, SimpleObject};
use trellis_projector::compliance;

use crate::compliance::{filter, record_aggregate, summaries_in_scope};
use crate::context::today;
use crate::error::{ErrorCode, error};

/// Outcome figures over the plans the caller may read.
#[derive(Debug, SimpleObject)]
pub struct Outcomes {
    /// Clients with a baseline and at least one later score.
    clients_measured: u32,
    /// Share of them whose latest score is at least 50% below baseline.
    response_rate: f64,
    /// Share of them whose latest PHQ-9 or GAD-7 is below 5.
    remission_rate: f64,
    objectives: u32,
    objectives_met: u32,
    objectives_met_rate: f64,
}

impl Outcomes {
    fn of(o: compliance::Outcomes) -> Self {
        Self {
            clients_measured: o.clients_measured,
            response_rate: share(o.clients_with_response, o.clients_measured),
            remission_rate: share(o.clients_in_remission, o.clients_measured),
            objectives: o.objectives,
            objectives_met: o.objectives_met,
            objectives_met_rate: share(o.objectives_met, o.objectives),
        }
    }
}

/// The outcome figures as they stood at the end of one month.
#[derive(Debug, SimpleObject)]
pub struct OutcomePoint {
    /// ISO date of the month's last day (today for the current month).
    on: String,
    outcomes: Outcomes,
}

/// Months `outcomeHistory` goes back by default, and at most.
const HISTORY_MONTHS: (u32, u32) = (12, 36);

/// The last day of each of the `months` months ending with `today`'s
/// (today itself for the current month), oldest first.
fn month_ends(today: chrono::NaiveDate, months: u32) -> Vec<chrono::NaiveDate> {
    use chrono::Datelike;
    let mut ends = vec![today];
    let mut first = today.with_day(1).unwrap_or(today);
    for _ in 1..months {
        let Some(end) = first.pred_opt() else { break };
        ends.push(end);
        first = end.with_day(1).unwrap_or(end);
    }
    ends.reverse();
    ends
}

fn share(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        0.0
    } else {
        f64::from(part) / f64::from(whole)
    }
}

#[derive(Default)]
pub struct OutcomeQuery;

#[Object]
impl OutcomeQuery {
    /// Response, remission and objectives-met rates over readable plans.
    async fn outcomes(
        &self,
        ctx: &Context<'_>,
        clinic_id: Option<String>,
    ) -> async_graphql::Result<Outcomes> {
        let plans = summaries_in_scope(ctx, filter(clinic_id, None)).await?;
        record_aggregate(ctx, "graphql:outcomes").await?;
        Ok(Outcomes::of(compliance::outcomes(
            plans.iter().map(|(p, _)| p),
        )))
    }

    /// The same rates as they stood at the end of each of the last
    /// `months` months (default 12, at most 36), oldest first; the
    /// current month's as of today. Scores count from the day they were
    /// given, objectives from the day they were added and met.
    async fn outcome_history(
        &self,
        ctx: &Context<'_>,
        clinic_id: Option<String>,
        months: Option<i32>,
    ) -> async_graphql::Result<Vec<OutcomePoint>> {
        let (default, most) = HISTORY_MONTHS;
        let months = match months {
            None => default,
            Some(m) if (1..=most as i32).contains(&m) => m as u32,
            Some(_) => {
                return Err(error(
                    ErrorCode::BadUserInput,
                    &format!("months must be between 1 and {most}"),
                ));
            }
        };
        let plans = summaries_in_scope(ctx, filter(clinic_id, None)).await?;
        record_aggregate(ctx, "graphql:outcomeHistory").await?;
        Ok(month_ends(today(), months)
            .into_iter()
            .map(|on| OutcomePoint {
                on: on.to_string(),
                outcomes: Outcomes::of(compliance::outcomes_at(plans.iter().map(|(p, _)| p), on)),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_ends_run_back_from_today() {
        let day = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
        let ends = month_ends(day("2026-03-15"), 4);
        assert_eq!(
            ends,
            vec![
                day("2025-12-31"),
                day("2026-01-31"),
                day("2026-02-28"),
                day("2026-03-15")
            ]
        );
        assert_eq!(month_ends(day("2026-03-15"), 1), vec![day("2026-03-15")]);
    }
}
