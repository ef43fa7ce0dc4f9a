//! What a group's appends do, decided in memory from what the group's
//! transaction read under the append lock (the heads of its streams, where
//! its event ids are stored), so nothing else can change it meanwhile.
//! Appends are decided in group order, each against the state the ones
//! before it left: two appends to one stream chain on each other, and a
//! refused append adds no row, so it leaves nothing behind and its
//! neighbours go on. The rules are the ones every store applies: the
//! expectation, then any id already stored, each refusal unless the
//! append is a retry of one that landed ([`recognise_retry`]).

use std::collections::{HashMap, HashSet};

use trellis_kernel::group_commit::AppendRequest;
use trellis_kernel::{
    AppendOutcome, ChainInput, EventHash, NewEvent, StoreError, StoredAt, StreamName, chain_hash,
    recognise_retry,
};
use uuid::Uuid;

/// A stream's last revision and that event's hash.
pub(crate) type Head = (u64, EventHash);

/// Where an event id is stored already, as read from the table.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub event_id: Uuid,
    pub stream: String,
    pub revision: u64,
    pub position: u64,
}

/// One event the group inserts, chained to its stream's previous event.
#[derive(Debug)]
pub(crate) struct Row<'a> {
    pub stream: &'a StreamName,
    /// `stream` as stored.
    pub stream_text: String,
    pub revision: u64,
    pub event: &'a NewEvent,
    pub recorded_at_us: i64,
    pub hash: EventHash,
}

/// A global position: committed already, or the one row `i` of the group
/// gets when inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    Stored(u64),
    Row(usize),
}

#[derive(Debug, Clone)]
struct Located {
    stream: String,
    revision: u64,
    position: Position,
}

#[derive(Debug)]
enum Answer {
    Refused(StoreError),
    Appended {
        last_revision: u64,
        last_position: Position,
        deduplicated: bool,
    },
}

/// The group's decided appends: the rows to insert, and each append's
/// answer once the rows have their positions.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    pub rows: Vec<Row<'a>>,
    answers: Vec<Answer>,
    heads: HashMap<String, Head>,
    located: HashMap<Uuid, Located>,
}

impl<'a> Plan<'a> {
    /// Decides `appends` in order. `heads` and `stored` are what the table
    /// holds for the group's streams and ids; `now_us` stamps each
    /// accepted append (the recorded time its hashes cover).
    pub(crate) fn decide(
        appends: &[&'a AppendRequest],
        heads: HashMap<String, Head>,
        stored: Vec<Stored>,
        mut now_us: impl FnMut() -> i64,
    ) -> Self {
        let located = stored
            .into_iter()
            .map(|s| {
                let at = Located {
                    stream: s.stream,
                    revision: s.revision,
                    position: Position::Stored(s.position),
                };
                (s.event_id, at)
            })
            .collect();
        let mut plan = Self {
            rows: Vec::with_capacity(appends.len()),
            answers: Vec::with_capacity(appends.len()),
            heads,
            located,
        };
        for request in appends {
            let answer = plan.append(request, &mut now_us);
            plan.answers.push(answer);
        }
        plan
    }

    /// Each append's answer in the order decided, given each row's
    /// position (`positions[i]` for `rows[i]`).
    pub(crate) fn outcomes(
        self,
        positions: &[u64],
    ) -> Result<Vec<Result<AppendOutcome, StoreError>>, StoreError> {
        let position = |at: Position| match at {
            Position::Stored(p) => Some(p),
            Position::Row(i) => positions.get(i).copied(),
        };
        self.answers
            .into_iter()
            .map(|answer| match answer {
                Answer::Refused(refused) => Ok(Err(refused)),
                Answer::Appended {
                    last_revision,
                    last_position,
                    deduplicated,
                } => Ok(Ok(AppendOutcome {
                    last_revision,
                    last_position: position(last_position).ok_or_else(|| {
                        StoreError::Corrupt("an appended row has no position".into())
                    })?,
                    deduplicated,
                })),
            })
            .collect()
    }

    fn append(&mut self, request: &'a AppendRequest, now_us: &mut impl FnMut() -> i64) -> Answer {
        if request.events.is_empty() {
            return Answer::Refused(StoreError::EmptyAppend);
        }
        let stream = request.stream.to_string();
        let head = self.heads.get(&stream).copied();
        let actual = head.map(|(revision, _)| revision);
        if !request.expected.admits(actual) {
            let refused = StoreError::WrongExpectedRevision {
                stream: request.stream.clone(),
                expected: request.expected,
                actual,
            };
            return self.retry_or(&stream, &request.events, refused);
        }
        if let Some(taken) = self.first_taken(&request.events) {
            let refused = StoreError::DuplicateEventId(taken);
            return self.retry_or(&stream, &request.events, refused);
        }
        let recorded_at_us = now_us();
        let mut revision = actual.map_or(0, |r| r + 1);
        let mut previous = head.map_or(EventHash::GENESIS, |(_, hash)| hash);
        for event in &request.events {
            let input = ChainInput::new_event(&request.stream, revision, event, recorded_at_us);
            let hash = chain_hash(&previous, &input);
            let at = Located {
                stream: stream.clone(),
                revision,
                position: Position::Row(self.rows.len()),
            };
            self.located.insert(event.event_id, at);
            self.rows.push(Row {
                stream: &request.stream,
                stream_text: stream.clone(),
                revision,
                event,
                recorded_at_us,
                hash,
            });
            previous = hash;
            revision += 1;
        }
        let last_revision = revision - 1;
        self.heads.insert(stream, (last_revision, previous));
        Answer::Appended {
            last_revision,
            last_position: Position::Row(self.rows.len() - 1),
            deduplicated: false,
        }
    }

    /// The first id of `events` stored already (in the table or by an
    /// earlier append of the group) or repeated within `events`.
    fn first_taken(&self, events: &[NewEvent]) -> Option<Uuid> {
        let mut seen = HashSet::with_capacity(events.len());
        events
            .iter()
            .find(|e| self.located.contains_key(&e.event_id) || !seen.insert(e.event_id))
            .map(|e| e.event_id)
    }

    /// A retry's earlier outcome, a reused id's refusal, else `refused`.
    fn retry_or(&self, stream: &str, events: &[NewEvent], refused: StoreError) -> Answer {
        // `recognise_retry` reads no positions, only passes the last one
        // through: hand it keys into `slots`, so an event this group
        // itself appended (no position yet) is recognised as well.
        let mut slots = Vec::new();
        let located: Vec<Option<StoredAt>> = events
            .iter()
            .map(|event| {
                let at = self.located.get(&event.event_id)?;
                slots.push(at.position);
                Some((at.stream.clone(), at.revision, slots.len() as u64 - 1))
            })
            .collect();
        match recognise_retry(stream, events, &located) {
            Ok(Some(earlier)) => {
                let slot = usize::try_from(earlier.last_position).ok();
                match slot.and_then(|slot| slots.get(slot)) {
                    Some(&last_position) => Answer::Appended {
                        last_revision: earlier.last_revision,
                        last_position,
                        deduplicated: true,
                    },
                    None => Answer::Refused(refused),
                }
            }
            Ok(None) => Answer::Refused(refused),
            Err(reused) => Answer::Refused(reused),
        }
    }
}
