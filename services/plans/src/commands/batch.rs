//! Deciding a plan's queued commands one after another against its cached
//! state, and appending what they decided together.
//!
//! Whoever holds a plan's state takes every command queued for it, decides
//! each against the plan as the ones before it left it, and appends all
//! accepted events in one append. Answers go out only after that append is
//! durable. A conflict can then only come from another process writing the
//! same plan; it is retried against the plan re-read from the store.

use std::sync::Arc;
use std::time::Instant;

use opentelemetry::KeyValue;
use tracing::Instrument;
use trellis_kernel::{ExpectedRevision, NewEvent, ReadDirection, StoreError, StreamName};
use trellis_plans_domain::PlanEvent;

use super::cache::{CachedPlan, PlanSlot, Queued};
use super::{
    CommandError, CommandOutcome, MAX_ATTEMPTS, PlanCommands, READ_PAGE, decode, instruments,
    snapshot,
};
use trellis_access::authorize_command;

/// What one queued command came to, before the batch's append.
enum Decided {
    /// Answered already (refused, or a retry of an applied command).
    Answered(Queued, Result<CommandOutcome, CommandError>),
    /// Events to append; the answer is its last event's revision.
    Accepted(Queued, Vec<NewEvent>),
    /// The same command id as an accepted command of this batch.
    Repeat(Queued, uuid::Uuid),
}

impl PlanCommands {
    /// Decides everything queued in `slot`, unless another task already
    /// did. Runs in its own task: a client that hangs up does not cancel
    /// the commands batched with its own.
    pub(super) async fn drain(self, stream: StreamName, slot: Arc<PlanSlot<Queued>>) {
        let mut state = Arc::clone(&slot.state).lock_owned().await;
        let batch = std::mem::take(&mut *slot.queue.lock().expect("queue poisoned"));
        if batch.is_empty() {
            return;
        }
        self.decide_all(&stream, &mut state, batch).await;
        self.cache.settle(&stream, &slot, state.as_ref());
        if let Some(cached) = state.as_mut() {
            self.snapshot_if_due(&stream, cached);
        }
    }

    async fn decide_all(
        &self,
        stream: &StreamName,
        state: &mut Option<CachedPlan>,
        mut batch: Vec<Queued>,
    ) {
        for _ in 0..MAX_ATTEMPTS {
            if let Err(e) = self.catch_up(stream, state).await {
                *state = None;
                return answer_all(batch, || copy_error(&e));
            }
            let cached = state.as_mut().expect("caught up");
            let decided = self.decide_batch(cached, batch).await;
            match self.append_decided(stream, state, decided).await {
                Ok(()) => return,
                Err(Retry::Conflict(again)) => {
                    tracing::debug!("another process wrote the plan; deciding again");
                    batch = again;
                }
                Err(Retry::OneByOne(again)) => {
                    // Something in the batch was refused by the store as a
                    // whole; deciding each alone finds which.
                    for queued in again {
                        Box::pin(self.decide_all(stream, state, vec![queued])).await;
                    }
                    return;
                }
            }
        }
        answer_all(batch, || CommandError::Contended);
    }

    /// Brings the cached plan up to the stream's end: from a snapshot and
    /// the events after it when cold, else the events appended since (by
    /// another process; normally none). Asking for the tail on every batch
    /// keeps the state exact across processes and makes a hidden plan cost
    /// what a missing one does; the embedded store answers it from its
    /// writer's stream heads when nothing follows.
    async fn catch_up(
        &self,
        stream: &StreamName,
        state: &mut Option<CachedPlan>,
    ) -> Result<(), CommandError> {
        if state.is_none() {
            *state = Some(self.load_cold(stream).await?);
        }
        let cached = state.as_mut().expect("loaded");
        loop {
            let page = self
                .store
                .read_stream(stream, ReadDirection::Forward, Some(cached.len), READ_PAGE)
                .await?;
            let full = page.len() == READ_PAGE;
            for recorded in &page {
                if recorded.revision != cached.len {
                    return Err(CommandError::Corrupt(format!(
                        "revision gap before global position {}",
                        recorded.global_position
                    )));
                }
                if let Some(event) = decode(recorded)? {
                    cached.plan.evolve(&event);
                }
                cached
                    .commands
                    .insert(recorded.metadata.causation_id, recorded.revision);
                cached.len += 1;
                cached.since_snapshot += 1;
                cached.payload_bytes += recorded.payload.len();
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// A plan not in memory: its snapshot if one of this version is
    /// stored, else nothing (the caller folds the events).
    async fn load_cold(&self, stream: &StreamName) -> Result<CachedPlan, CommandError> {
        let Some(snapshots) = &self.snapshots else {
            return Ok(CachedPlan::empty());
        };
        match snapshots.store.load_snapshot(stream).await {
            Ok(Some(stored)) => Ok(snapshot::decode(&stored).unwrap_or_else(|| {
                tracing::debug!("snapshot of another version ignored");
                CachedPlan::empty()
            })),
            Ok(None) => Ok(CachedPlan::empty()),
            // A cache that cannot be read is skipped, never fatal.
            Err(e) => {
                tracing::warn!(error = %e, "snapshot unreadable; folding the plan's events");
                Ok(CachedPlan::empty())
            }
        }
    }

    /// Decides each queued command against the plan as the commands
    /// before it in the batch leave it. Accepted events are folded in at
    /// once; if the append then fails the state is dropped and re-read.
    async fn decide_batch(&self, cached: &mut CachedPlan, batch: Vec<Queued>) -> Vec<Decided> {
        let mut decided = Vec::with_capacity(batch.len());
        let mut pending: Vec<uuid::Uuid> = Vec::new();
        for queued in batch {
            let result = self.decide_one(cached, &queued).await;
            let outcome = match result {
                Err(e) => Decided::Answered(queued, Err(e)),
                Ok(None) => {
                    let command_id = queued.ctx.command_id;
                    if pending.contains(&command_id) {
                        Decided::Repeat(queued, command_id)
                    } else {
                        let revision = cached.commands[&command_id];
                        let outcome = CommandOutcome {
                            plan_id: queued.plan_id,
                            revision,
                            duplicate: true,
                        };
                        Decided::Answered(queued, Ok(outcome))
                    }
                }
                Ok(Some((events, stored))) => {
                    for event in &events {
                        cached.plan.evolve(event);
                    }
                    pending.push(queued.ctx.command_id);
                    // Marks the id applied so a repeat in this batch is
                    // recognised; the revision is set after the append.
                    cached.commands.insert(queued.ctx.command_id, u64::MAX);
                    Decided::Accepted(queued, stored)
                }
            };
            decided.push(outcome);
        }
        decided
    }

    /// One command against the cached plan: `Ok(None)` when its id was
    /// applied before, else the domain events and their stored form.
    async fn decide_one(
        &self,
        cached: &CachedPlan,
        queued: &Queued,
    ) -> Result<Option<(Vec<PlanEvent>, Vec<NewEvent>)>, CommandError> {
        let ctx = &queued.ctx;
        // Authorization comes before recognising a retry: a caller who may
        // not act on the plan learns nothing from a replayed id.
        let role = authorize_command(&ctx.caller, &queued.command, cached.plan.care())?;
        if cached.commands.contains_key(&ctx.command_id) {
            return Ok(None);
        }
        let command = self
            .resolve(&ctx.caller.tenant, &cached.plan, &queued.command)
            .await?;
        let events = cached.plan.decide(&command, (self.today)())?;
        let stored = self.envelope(ctx, role, command.reason(), &events);
        Ok(Some((events, stored)))
    }

    /// Appends the batch's accepted events in one append and answers
    /// every command of the batch once it is durable.
    async fn append_decided(
        &self,
        stream: &StreamName,
        state: &mut Option<CachedPlan>,
        decided: Vec<Decided>,
    ) -> Result<(), Retry> {
        let cached = state.as_mut().expect("decided against a loaded plan");
        let start = cached.len;
        let events: Vec<NewEvent> = decided
            .iter()
            .filter_map(|d| match d {
                Decided::Accepted(_, events) => Some(events.iter().cloned()),
                _ => None,
            })
            .flatten()
            .collect();
        if events.is_empty() {
            for d in decided {
                if let Decided::Answered(queued, result) = d {
                    let _ = queued.reply.send(result);
                }
            }
            return Ok(());
        }
        let count = events.len() as u64;
        let payload_bytes: usize = events.iter().map(|e| e.payload.len()).sum();
        let tenant = stream.tenant().to_string();
        let parent = decided.first().map(Decided::span).cloned();
        let span = tracing::info_span!(parent: parent.as_ref().and_then(tracing::Span::id), "store.append", events = count);
        let started = Instant::now();
        let appended = self
            .store
            .append(stream, ExpectedRevision::after(start), events)
            .instrument(span)
            .await;
        let i = instruments();
        i.append_duration.record(
            started.elapsed().as_secs_f64(),
            &[KeyValue::new("ok", appended.is_ok())],
        );
        match appended {
            Ok(outcome) if !outcome.deduplicated => {
                i.events_appended
                    .add(count, &[KeyValue::new("tenant", tenant)]);
                cached.len += count;
                cached.since_snapshot += count;
                cached.payload_bytes += payload_bytes;
                answer_appended(cached, start, decided);
                Ok(())
            }
            // Every event was stored before: a retry of this very command
            // raced its first attempt from another process.
            Ok(outcome) if decided.len() == 1 => {
                *state = None;
                let Some(Decided::Accepted(queued, _)) = decided.into_iter().next() else {
                    unreachable!("a batch that appended had an accepted command");
                };
                let outcome = CommandOutcome {
                    plan_id: queued.plan_id,
                    revision: outcome.last_revision,
                    duplicate: true,
                };
                let _ = queued.reply.send(Ok(outcome));
                Ok(())
            }
            Ok(_) => {
                *state = None;
                Err(Retry::OneByOne(requeue(decided)))
            }
            Err(StoreError::WrongExpectedRevision { .. }) => {
                *state = None;
                Err(Retry::Conflict(requeue(decided)))
            }
            Err(StoreError::DuplicateEventId(_)) if decided.len() == 1 => {
                *state = None;
                answer_all(requeue(decided), || CommandError::CommandIdReused);
                Ok(())
            }
            Err(StoreError::DuplicateEventId(_)) => {
                *state = None;
                Err(Retry::OneByOne(requeue(decided)))
            }
            Err(e) => {
                // Unsure what was written: the plan is read again next time.
                *state = None;
                answer_all(requeue(decided), || {
                    CommandError::Store(copy_store_error(&e))
                });
                Ok(())
            }
        }
    }

    /// Hands a copy of the plan to the snapshot writer once enough events
    /// were folded since the last one ([`snapshot::due`]); the copy is
    /// encoded and saved in another task, off the command path.
    fn snapshot_if_due(&self, stream: &StreamName, cached: &mut CachedPlan) {
        let Some(snapshots) = &self.snapshots else {
            return;
        };
        if !snapshot::due(cached, snapshots.every) {
            return;
        }
        // A writer busy with other plans: this one goes next time.
        let Ok(permit) = Arc::clone(&snapshots.writers).try_acquire_owned() else {
            return;
        };
        cached.since_snapshot = 0;
        let copy = cached.clone();
        let (store, stream) = (Arc::clone(&snapshots.store), stream.clone());
        tokio::spawn(async move {
            let encoded = snapshot::encode(&copy);
            if let Err(e) = store.save_snapshot(&stream, encoded).await {
                tracing::warn!(error = %e, "snapshot not saved; the plan's events stay the record");
            }
            drop(permit);
        });
    }
}

impl Decided {
    fn span(&self) -> &tracing::Span {
        match self {
            Self::Answered(q, _) | Self::Accepted(q, _) | Self::Repeat(q, _) => &q.span,
        }
    }
}

/// Answers a batch whose events were appended from revision `start`.
fn answer_appended(cached: &mut CachedPlan, start: u64, decided: Vec<Decided>) {
    let mut next = start;
    let mut repeats = Vec::new();
    for d in decided {
        match d {
            Decided::Answered(queued, result) => {
                let _ = queued.reply.send(result);
            }
            Decided::Accepted(queued, events) => {
                next += events.len() as u64;
                let revision = next - 1;
                cached.commands.insert(queued.ctx.command_id, revision);
                let outcome = CommandOutcome {
                    plan_id: queued.plan_id,
                    revision,
                    duplicate: false,
                };
                let _ = queued.reply.send(Ok(outcome));
            }
            Decided::Repeat(queued, id) => repeats.push((queued, id)),
        }
    }
    for (queued, id) in repeats {
        let outcome = CommandOutcome {
            plan_id: queued.plan_id,
            revision: cached.commands[&id],
            duplicate: true,
        };
        let _ = queued.reply.send(Ok(outcome));
    }
}

/// The commands of a batch, to decide again.
fn requeue(decided: Vec<Decided>) -> Vec<Queued> {
    decided
        .into_iter()
        .map(|d| match d {
            Decided::Answered(q, _) | Decided::Accepted(q, _) | Decided::Repeat(q, _) => q,
        })
        .collect()
}

/// Why a batch must be decided again.
enum Retry {
    /// Another process appended first: re-read and decide again.
    Conflict(Vec<Queued>),
    /// The store refused the batch as a whole: decide each alone.
    OneByOne(Vec<Queued>),
}

fn answer_all(batch: Vec<Queued>, error: impl Fn() -> CommandError) {
    for queued in batch {
        let _ = queued.reply.send(Err(error()));
    }
}

/// The same failure for every command of a batch.
fn copy_error(error: &CommandError) -> CommandError {
    match error {
        CommandError::Store(e) => CommandError::Store(copy_store_error(e)),
        CommandError::Corrupt(place) => CommandError::Corrupt(place.clone()),
        CommandError::Contended => CommandError::Contended,
        CommandError::CommandIdReused => CommandError::CommandIdReused,
        CommandError::Rejected(e) => CommandError::Rejected(e.clone()),
        CommandError::Denied(e) => CommandError::Denied(*e),
        CommandError::ErasureUnavailable => CommandError::ErasureUnavailable,
    }
}

fn copy_store_error(error: &StoreError) -> StoreError {
    match error {
        StoreError::Corrupt(what) => StoreError::Corrupt(what.clone()),
        other => StoreError::Unavailable(other.to_string()),
    }
}
