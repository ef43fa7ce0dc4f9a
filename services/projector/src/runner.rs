//! Following the event feed and keeping read models current: one
//! projector per read-model store at a time (a lease), the others on standby.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use opentelemetry::metrics::Gauge;
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use futures::{FutureExt, StreamExt};
use tokio::sync::watch;
use trellis_kernel::{EventStore, RecordedEvent, StoreError, SubscriptionMessage};
use trellis_plans_domain::{PLAN_CATEGORY, PlanEvent};

use crate::unsaved::{PlanKey, UnsavedViews};
use crate::{ChangePublisher, PlanChanged, ReadModelError, ReadModelStore};

/// How many feed messages are folded at once at most: a projector behind
/// its feed catches up in pages of this many.
const BATCH: usize = 1024;
/// How many plans are held folded but unsaved at most (a bound on memory
/// while a save runs): past it folding waits for the save.
const MAX_UNSAVED_PLANS: usize = 1024;
/// The longest wait between two saves (see `save_gap`): how far listings
/// may trail the folded plans beyond a save's own time.
const MAX_SAVE_GAP: Duration = Duration::from_millis(250);
/// A save is followed by a wait this many times as long as it took.
const SAVE_GAP_FACTOR: u32 = 3;

/// The wait after a save that took `took`: three times as long, so saves
/// shorter than a third of `MAX_SAVE_GAP` take at most a quarter of the
/// time under load (a longer save is followed by `MAX_SAVE_GAP`). Under
/// W2 this left the commands 5–6 % more than waiting once as long did
/// (docs/benchmarks.md); listings trail the folded plans for longer, never
/// more than `MAX_SAVE_GAP` beyond a save's own time.
fn save_gap(took: Duration) -> Duration {
    took.saturating_mul(SAVE_GAP_FACTOR).min(MAX_SAVE_GAP)
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    ReadModel(#[from] ReadModelError),
    #[error("the event feed ended")]
    FeedEnded,
    #[error("the read-model store lost what was written to it; rebuilding from the first event")]
    ReadModelsLost,
    #[error("another projector took the lease; standing by")]
    LeaseLost,
}

/// How long a projector's lease lasts unless renewed, by default; it renews
/// every [`INTACT_EVERY`] while it runs, so a projector that dies is
/// replaced within this time.
pub const LEASE_TTL: Duration = Duration::from_secs(5);

/// How often an idle projector checks that its read models are still
/// there (a Redis restarted empty while no event arrives).
const INTACT_EVERY: Duration = Duration::from_secs(1);

/// Projects plan events into a [`ReadModelStore`].
pub struct Projector {
    events: Arc<dyn EventStore>,
    read_models: Arc<dyn ReadModelStore>,
    position: watch::Sender<u64>,
    publishers: Vec<Arc<dyn ChangePublisher>>,
    /// This process, as the lease names it.
    holder: String,
    /// Whether this projector holds the lease (and so projects).
    holding: watch::Sender<bool>,
    lease_ttl: Duration,
    /// Plans folded but not yet saved.
    unsaved: Arc<UnsavedViews>,
    /// Where saves run: the caller's runtime unless told otherwise.
    saves_on: Option<tokio::runtime::Handle>,
}

impl std::fmt::Debug for Projector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projector")
            .field("position", &*self.position.borrow())
            .finish_non_exhaustive()
    }
}

impl Projector {
    pub fn new(events: Arc<dyn EventStore>, read_models: Arc<dyn ReadModelStore>) -> Self {
        Self {
            events,
            read_models,
            position: watch::Sender::new(0),
            publishers: Vec::new(),
            holder: uuid::Uuid::new_v4().to_string(),
            holding: watch::Sender::new(false),
            lease_ttl: LEASE_TTL,
            unsaved: Arc::default(),
            saves_on: None,
        }
    }

    /// Runs saves (encoding the documents and writing them) on `runtime`
    /// instead of the caller's: a process gives them a runtime of their
    /// own, so a save of many large plans never holds one of the workers
    /// its requests run on (readers of this process see the folded plans
    /// meanwhile).
    #[must_use]
    pub fn saving_on(mut self, runtime: tokio::runtime::Handle) -> Self {
        self.saves_on = Some(runtime);
        self
    }

    /// Holds the plans it folded but has not saved yet in `unsaved`, which
    /// readers of this process share ([`crate::CachedReadModels::showing_unsaved`]).
    #[must_use]
    pub fn folding_into(mut self, unsaved: Arc<UnsavedViews>) -> Self {
        self.unsaved = unsaved;
        self
    }

    /// Leases for `ttl` instead of [`LEASE_TTL`]: how soon a standby takes
    /// over from a projector that died. At least twice the renewal
    /// interval, so an idle projector never loses it between renewals (a
    /// batch that outlasts the lease may: the standby then takes over, and
    /// writes being idempotent by version, nothing is applied twice).
    #[must_use]
    pub fn leasing_for(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl.max(INTACT_EVERY * 2);
        self
    }

    /// Whether this projector holds the lease: one projects, the others
    /// stand by until it stops renewing.
    pub fn holding(&self) -> watch::Receiver<bool> {
        self.holding.subscribe()
    }

    /// Waits until this projector holds the lease.
    async fn take_lease(&self) -> Result<(), ProjectorError> {
        let mut said = false;
        while !self
            .read_models
            .hold_lease(&self.holder, self.lease_ttl)
            .await?
        {
            self.holding.send_replace(false);
            if !said {
                tracing::info!("another projector holds the lease; standing by");
                said = true;
            }
            tokio::time::sleep(INTACT_EVERY).await;
        }
        self.holding.send_replace(true);
        Ok(())
    }

    /// Renews the lease; an error when another projector took it.
    async fn renew_lease(&self) -> Result<(), ProjectorError> {
        if self
            .read_models
            .hold_lease(&self.holder, self.lease_ttl)
            .await?
        {
            return Ok(());
        }
        self.holding.send_replace(false);
        tracing::warn!("another projector took the lease; standing by");
        Err(ProjectorError::LeaseLost)
    }

    /// Also announce every saved plan version to `publisher`.
    #[must_use]
    pub fn announcing_to(mut self, publisher: Arc<dyn ChangePublisher>) -> Self {
        self.publishers.push(publisher);
        self
    }

    /// The feed position the read models include; changes after each save.
    pub fn position(&self) -> watch::Receiver<u64> {
        self.position.subscribe()
    }

    /// Runs until the feed fails. Resumes after the saved checkpoint, once
    /// the store has brought its indexes up to date.
    pub async fn run(&self) -> Result<(), ProjectorError> {
        self.take_lease().await?;
        self.read_models.prepare().await?;
        // Whatever was folded before is folded again from the checkpoint.
        self.unsaved.clear();
        let checkpoint = self.read_models.checkpoint().await?;
        self.position.send_replace(checkpoint.unwrap_or(0));
        tracing::info!(checkpoint = ?checkpoint, "projection starting");
        let feed = self.events.subscribe_all(checkpoint).await?.fuse();
        let mut saving = None;
        let followed = self
            .follow(feed, checkpoint.unwrap_or(0), &mut saving)
            .await;
        // A save under way is let finish, not aborted: its write may
        // already be past the point of no return (a blocking SQLite
        // transaction), and the caches it refreshes must not lag the store.
        if let Some(save) = saving {
            let _ = save.await;
        }
        followed
    }

    /// Folds the feed as it arrives and saves what changed behind it: one
    /// save at a time, each of everything folded while the last one ran.
    async fn follow(
        &self,
        mut feed: futures::stream::Fuse<trellis_kernel::SubscriptionStream>,
        checkpoint: u64,
        saving: &mut Option<tokio::task::JoinHandle<Result<Saved, ProjectorError>>>,
    ) -> Result<(), ProjectorError> {
        let mut folded = Folded {
            position: checkpoint,
            ..Folded::default()
        };
        let mut saved_position = checkpoint;
        // The feed position the last save started with: a save follows
        // whenever the feed moved past it, plan events or not, so the
        // position (and a rebuild's end) reach the last event.
        let mut save_started_at = checkpoint;
        // The store-loss check waits for no save to be under way: a save
        // landing after a rebuild began would put an old checkpoint into
        // the rebuilt store.
        let mut intact_due = false;
        // Saves are spaced by `save_gap`: under load the projector writes
        // a quarter of the time or less (for saves under ~80 ms), leaving
        // the rest of the machine to the commands, while readers of this
        // process see the folded plans meanwhile.
        let mut next_save_at = tokio::time::Instant::now();
        // The feed position a rebuild ends at, once saved.
        let mut rebuilt_at: Option<u64> = None;
        let mut check = tokio::time::interval(INTACT_EVERY);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                done = async { saving.as_mut().expect("guarded").await }, if saving.is_some() => {
                    *saving = None;
                    let saved = done.map_err(|e| {
                        ReadModelError::Unavailable(format!("read-model save stopped: {e}"))
                    })??;
                    saved_position = saved.checkpoint;
                    next_save_at = tokio::time::Instant::now() + save_gap(saved.took);
                    self.finish_save(saved).await;
                    if std::mem::take(&mut intact_due) {
                        self.ensure_intact().await?;
                    }
                }
                _ = check.tick() => {
                    self.renew_lease().await?;
                    if saving.is_some() {
                        intact_due = true;
                    } else {
                        self.ensure_intact().await?;
                    }
                }
                () = tokio::time::sleep_until(next_save_at),
                    if saving.is_none() && folded.position > save_started_at => {}
                // While a save runs, folding goes on up to a bound of plans
                // held (memory), then waits for it.
                first = feed.next(), if self.unsaved.len() < MAX_UNSAVED_PLANS => {
                    let Some(first) = first else {
                        return Err(ProjectorError::FeedEnded);
                    };
                    let messages = gather(first, &mut feed).await;
                    if self.fold(messages, &mut folded).await? {
                        rebuilt_at = Some(folded.position);
                    }
                }
            }
            // A full hold is saved at once: folding waits for it.
            if saving.is_none()
                && folded.position > save_started_at
                && (tokio::time::Instant::now() >= next_save_at
                    || self.unsaved.len() >= MAX_UNSAVED_PLANS)
            {
                save_started_at = folded.position;
                *saving = Some(self.start_save(&mut folded));
            }
            // Only once the events before it are saved: a rebuild ends
            // when every plan is back, not while the last ones are still
            // in hand (a gateway would read those plans as missing).
            if rebuilt_at.is_some_and(|at| at <= saved_position) {
                rebuilt_at = None;
                self.read_models.rebuilt().await?;
                tracing::info!("projection caught up; now live");
            }
        }
    }

    /// Folds the events of `messages` into the unsaved plans; true when
    /// the feed said it caught up.
    async fn fold(
        &self,
        messages: Vec<Result<SubscriptionMessage, StoreError>>,
        folded: &mut Folded,
    ) -> Result<bool, ProjectorError> {
        let mut events = Vec::with_capacity(messages.len());
        let mut caught_up = false;
        for message in messages {
            match message? {
                SubscriptionMessage::Event(event) => events.push(*event),
                SubscriptionMessage::CaughtUp => caught_up = true,
            }
        }
        let Some(last) = events.last() else {
            return Ok(caught_up);
        };
        let span = batch_span(&events);
        self.fold_events(&events, folded).instrument(span).await?;
        folded.position = last.global_position;
        folded.recorded_at = Some(last.recorded_at);
        Ok(caught_up)
    }

    async fn fold_events(
        &self,
        events: &[RecordedEvent],
        folded: &mut Folded,
    ) -> Result<(), ProjectorError> {
        for event in events
            .iter()
            .filter(|e| e.stream.category() == PLAN_CATEGORY)
        {
            let key = (event.tenant().to_string(), event.stream.id().to_owned());
            if !self.unsaved.holds(&key) {
                let saved = match self.read_models.plan(event.tenant(), &key.1).await {
                    Ok(saved) => saved,
                    // The next save writes it whole again; until then it is
                    // held as folded from the record.
                    Err(ReadModelError::Corrupt(_)) => {
                        tracing::error!(
                            stream = %event.stream,
                            "a plan's stored read model does not read; folding it again from its stream"
                        );
                        self.fold_stream(&event.stream).await?
                    }
                    Err(other) => return Err(other.into()),
                };
                self.unsaved.adopt(key.clone(), saved);
            }
            if event.event_type == "SafetyFlagRaised"
                && let Ok(PlanEvent::SafetyFlagRaised(flag)) =
                    PlanEvent::decode(&event.event_type, event.schema_version, &event.payload)
            {
                folded
                    .raised
                    .entry(key.clone())
                    .or_default()
                    .push(flag.flag_id.to_string());
            }
            if self.unsaved.fold(&key, event).is_err() {
                // A broken event must not stop every other plan's read
                // model. It is logged by position only: a decode error can
                // quote payload text, which may be PHI.
                tracing::error!(
                    position = event.global_position,
                    event_type = %event.event_type,
                    "plan event cannot be projected; skipped"
                );
            }
            folded.changed.insert(key);
        }
        Ok(())
    }

    /// The plan of `stream` folded from its first event to its last (the
    /// events the feed has not delivered yet included: folding is
    /// idempotent by revision, so the feed's copies of them change nothing).
    async fn fold_stream(
        &self,
        stream: &trellis_kernel::StreamName,
    ) -> Result<Option<crate::PlanView>, ProjectorError> {
        let mut view = None;
        let mut from = Some(0);
        while let Some(start) = from {
            let page = self
                .events
                .read_stream(
                    stream,
                    trellis_kernel::ReadDirection::Forward,
                    Some(start),
                    BATCH,
                )
                .await?;
            // Until a page comes back empty: a store may leave events out
            // of a page (KurrentDB's system events), so a short page is
            // not the end.
            from = page.last().map(|e| e.revision + 1);
            for event in &page {
                if crate::apply_event(&mut view, event).is_err() {
                    // Skipped as the feed skips it (logged by position only).
                    tracing::error!(
                        position = event.global_position,
                        event_type = %event.event_type,
                        "plan event cannot be projected; skipped"
                    );
                }
            }
        }
        Ok(view)
    }

    /// Saves, in a task of its own, the plans changed since the last save
    /// and the feed position they include.
    fn start_save(
        &self,
        folded: &mut Folded,
    ) -> tokio::task::JoinHandle<Result<Saved, ProjectorError>> {
        let changed = std::mem::take(&mut folded.changed);
        let mut raised = std::mem::take(&mut folded.raised);
        let (views, versions) = self.unsaved.snapshot(changed);
        let announcements: Vec<PlanChanged> = views
            .iter()
            .map(|v| PlanChanged {
                tenant: v.tenant.clone(),
                plan_id: v.plan_id.clone(),
                version: v.version,
                raised_flags: raised
                    .remove(&(v.tenant.clone(), v.plan_id.clone()))
                    .unwrap_or_default(),
            })
            .collect();
        let read_models = Arc::clone(&self.read_models);
        let checkpoint = folded.position;
        let recorded_at = folded.recorded_at;
        let span = tracing::info_span!(parent: None, "projection.save", plans = views.len());
        let runtime = self
            .saves_on
            .clone()
            .unwrap_or_else(tokio::runtime::Handle::current);
        runtime.spawn(
            async move {
                let started = Instant::now();
                // Copied here, off the folding, and the shared copies let
                // go at once: a plan folded again meanwhile is then changed
                // in place rather than copied.
                let views = views.into_iter().map(Arc::unwrap_or_clone).collect();
                read_models.save(views, checkpoint).await?;
                Ok(Saved {
                    took: started.elapsed(),
                    checkpoint,
                    recorded_at,
                    versions,
                    announcements,
                })
            }
            .instrument(span),
        )
    }

    /// What follows a save: the position moves, subscribers hear of it
    /// (only now: one that reads on notice sees it), and the plans saved
    /// need no longer be held.
    async fn finish_save(&self, saved: Saved) {
        self.position.send_replace(saved.checkpoint);
        if let Some(recorded_at) = saved.recorded_at {
            let lag = (chrono::Utc::now() - recorded_at).as_seconds_f64();
            lag_seconds().record(lag.max(0.0), &[]);
        }
        for publisher in &self.publishers {
            publisher.publish(&saved.announcements).await;
        }
        self.unsaved.forget_saved(&saved.versions);
    }

    /// Starts the rebuild when the store lost what was written to it.
    async fn ensure_intact(&self) -> Result<(), ProjectorError> {
        if self.read_models.intact().await? {
            return Ok(());
        }
        tracing::error!(
            "the read models lost what was written to them; rebuilding from the first event"
        );
        self.read_models.start_rebuild().await?;
        Err(ProjectorError::ReadModelsLost)
    }
}

/// What was folded since the last save began.
#[derive(Debug, Default)]
struct Folded {
    /// Plans changed since the last save began.
    changed: HashSet<PlanKey>,
    /// Safety flags raised on them, by plan.
    raised: HashMap<PlanKey, Vec<String>>,
    /// The feed position of the last event folded.
    position: u64,
    recorded_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A save done: what it included.
struct Saved {
    took: Duration,
    checkpoint: u64,
    recorded_at: Option<chrono::DateTime<chrono::Utc>>,
    versions: Vec<(PlanKey, u64)>,
    announcements: Vec<PlanChanged>,
}

/// The batch that `first` opens: it and every message already waiting, up
/// to [`BATCH`]. Nothing waits for more: a save runs behind the folding,
/// and what arrives while it runs goes into the next save.
async fn gather<S, T>(first: T, feed: &mut S) -> Vec<T>
where
    S: futures::Stream<Item = T> + Unpin,
{
    let mut batch = vec![first];
    while batch.len() < BATCH {
        match feed.next().now_or_never() {
            Some(Some(message)) => batch.push(message),
            // Nothing waiting; or the end, which shows on the next call.
            Some(None) | None => break,
        }
    }
    batch
}

/// Most links one batch span carries; a long catch-up links its first ones.
const MAX_LINKS: usize = 128;

/// A root span per batch, linked to the spans that appended its events, so
/// a trace of a command leads to the projection that applied it.
fn batch_span(events: &[RecordedEvent]) -> tracing::Span {
    let span = tracing::info_span!(parent: None, "projection.batch", events = events.len());
    for event in events.iter().take(MAX_LINKS) {
        let m = &event.metadata;
        if let (Ok(trace_id), Ok(span_id)) =
            (TraceId::from_hex(&m.trace_id), SpanId::from_hex(&m.span_id))
        {
            let appended_by = SpanContext::new(
                trace_id,
                span_id,
                TraceFlags::SAMPLED,
                true,
                TraceState::default(),
            );
            if appended_by.is_valid() {
                span.add_link(appended_by);
            }
        }
    }
    span
}

fn lag_seconds() -> &'static Gauge<f64> {
    static LAG: OnceLock<Gauge<f64>> = OnceLock::new();
    LAG.get_or_init(|| {
        opentelemetry::global::meter("trellis")
            .f64_gauge("trellis.projection.lag.seconds")
            .with_unit("s")
            .with_description(
                "Time from an event's append to its read-model save, for the latest save",
            )
            .build()
    })
}

#[cfg(test)]
mod tests;
