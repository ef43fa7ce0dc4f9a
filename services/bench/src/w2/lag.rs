//! Projection lag while the load runs: from a command's acknowledgement
//! until GraphQL shows the plan at the revision it answered. A probe client
//! of its own, on a plan of its own, sends one `AddGoal` every
//! [`PROBE_EVERY`] and then asks `plan(id) { version }` until the read
//! model has it. Each figure includes up to one GraphQL round trip (the
//! last question's), so it is an upper bound.

use std::time::{Duration, Instant};

use trellis_plans_domain::PlanId;

use super::load::{AddGoal, Rpc, Window};
use super::server::Graphql;

/// Pause between probes: a light load beside the measured one.
const PROBE_EVERY: Duration = Duration::from_millis(50);
/// Pause between two questions about one probe.
const ASK_EVERY: Duration = Duration::from_millis(1);
/// A probe not visible this long after its acknowledgement counts as lost.
const GIVE_UP: Duration = Duration::from_secs(5);

/// What the probe saw during the window.
#[derive(Debug, Default)]
pub(crate) struct Lags {
    /// Lags of the probes acknowledged in the window, µs, sorted.
    pub lags_us: Vec<u64>,
    /// Probes not visible within [`GIVE_UP`], or whose command failed.
    pub missed: u64,
}

impl Lags {
    /// Nearest-rank percentile (`p` in 0..=1); 0 without samples.
    pub fn percentile(&self, p: f64) -> u64 {
        crate::stats::nearest_rank(&self.lags_us, p)
    }
}

/// Probes until the window closes; returns the probe's writer (for the
/// stream check afterwards) and the lags.
pub(crate) async fn probe(
    mut writer: AddGoal,
    graphql: Graphql,
    token: String,
    plan: PlanId,
    window: Window,
) -> anyhow::Result<(AddGoal, Lags)> {
    let mut lags = Lags::default();
    while Instant::now() < window.until {
        tokio::time::sleep(PROBE_EVERY).await;
        if writer.call().await.is_err() {
            lags.missed += 1;
            continue;
        }
        let acknowledged = Instant::now();
        let revision = writer.revision;
        let visible = loop {
            if graphql
                .version(&token, plan)
                .await?
                .is_some_and(|v| v >= revision)
            {
                break Some(acknowledged.elapsed());
            }
            if acknowledged.elapsed() > GIVE_UP {
                break None;
            }
            tokio::time::sleep(ASK_EVERY).await;
        };
        let measured = acknowledged >= window.from && acknowledged < window.until;
        match visible {
            Some(lag) if measured => lags.lags_us.push(lag.as_micros() as u64),
            Some(_) => {}
            None => lags.missed += 1,
        }
    }
    lags.lags_us.sort_unstable();
    Ok((writer, lags))
}
