//! The queue a store's single writer drains: appends and access records
//! wait together, are committed in one transaction (one fsync), and each
//! caller gets its own answer. Shared by the SQL stores so the protocol
//! between callers and the writer is written once. Snapshots may queue
//! here too, so they never fight the writer for the database's lock; a
//! writer keeps them apart from the record, so a snapshot that fails fails
//! only its own caller.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::channel::oneshot;

use crate::{
    AccessRecord, AppendOutcome, ExpectedRevision, NewEvent, Snapshot, StoreError, StreamName,
};

/// One caller's append, waiting for the writer.
#[derive(Debug)]
pub struct AppendRequest {
    pub stream: StreamName,
    pub expected: ExpectedRevision,
    pub events: Vec<NewEvent>,
    reply: oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

/// One caller's access records, waiting for the writer.
#[derive(Debug)]
pub struct AccessRequest {
    pub records: Vec<AccessRecord>,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

/// A write probe, waiting for the writer: the writer touches the store's
/// probe row (never an event) in the group's transaction, so its answer
/// says whether a commit reaches the disk now.
#[derive(Debug)]
pub struct ProbeRequest {
    reply: oneshot::Sender<Result<(), StoreError>>,
    /// Held until the writer answers: see [`ProbeGate`].
    in_flight: ProbeTicket,
}

/// One caller's snapshot, waiting for the writer: kept unless the stream's
/// stored snapshot is at the same or a later revision.
#[derive(Debug)]
pub struct SnapshotRequest {
    pub stream: StreamName,
    pub snapshot: Snapshot,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

/// Everything the writer commits: appends, access records and write probes
/// share fsyncs; snapshots (a cache) need none of their own.
#[derive(Debug)]
pub enum WriteRequest {
    Append(AppendRequest),
    Access(AccessRequest),
    Probe(ProbeRequest),
    Snapshot(SnapshotRequest),
}

/// The writer's answer to one request, in the request's kind.
#[derive(Debug)]
pub enum WriteResult {
    Append(Result<AppendOutcome, StoreError>),
    Access(Result<(), StoreError>),
    Probe(Result<(), StoreError>),
    Snapshot(Result<(), StoreError>),
}

/// Lets one write probe at a time wait for a store's writer, so a writer
/// that hangs collects one probe, not one per readiness check.
#[derive(Debug, Default)]
pub struct ProbeGate(Arc<AtomicBool>);

impl ProbeGate {
    /// A probe for the writer's queue, or `None` while the previous one is
    /// still unanswered.
    pub fn request(&self) -> Option<(WriteRequest, Acknowledgement<()>)> {
        if self.0.swap(true, Ordering::AcqRel) {
            return None;
        }
        let (reply, acknowledged) = oneshot::channel();
        let request = ProbeRequest {
            reply,
            in_flight: ProbeTicket(Arc::clone(&self.0)),
        };
        Some((WriteRequest::Probe(request), Acknowledgement(acknowledged)))
    }
}

/// What callers see when the previous write probe is still unanswered.
pub fn probe_unanswered() -> StoreError {
    StoreError::Unavailable("the writer has not answered the previous write probe".into())
}

/// Opens the gate again when dropped: once answered, or when the request
/// is dropped unanswered (the writer is gone).
#[derive(Debug)]
struct ProbeTicket(Arc<AtomicBool>);

impl Drop for ProbeTicket {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Resolves once the writer has answered the request it was made with.
#[derive(Debug)]
pub struct Acknowledgement<T>(oneshot::Receiver<Result<T, StoreError>>);

impl<T> Acknowledgement<T> {
    pub async fn wait(self) -> Result<T, StoreError> {
        self.0.await.map_err(|_| writer_stopped())?
    }
}

/// What callers see when the writer is gone (the store is shutting down).
pub fn writer_stopped() -> StoreError {
    StoreError::Unavailable("store writer has stopped".into())
}

impl WriteRequest {
    pub fn append(
        stream: StreamName,
        expected: ExpectedRevision,
        events: Vec<NewEvent>,
    ) -> (Self, Acknowledgement<AppendOutcome>) {
        let (reply, acknowledged) = oneshot::channel();
        let request = AppendRequest {
            stream,
            expected,
            events,
            reply,
        };
        (Self::Append(request), Acknowledgement(acknowledged))
    }

    pub fn access(records: Vec<AccessRecord>) -> (Self, Acknowledgement<()>) {
        let (reply, acknowledged) = oneshot::channel();
        let request = AccessRequest { records, reply };
        (Self::Access(request), Acknowledgement(acknowledged))
    }

    pub fn snapshot(stream: StreamName, snapshot: Snapshot) -> (Self, Acknowledgement<()>) {
        let (reply, acknowledged) = oneshot::channel();
        let request = SnapshotRequest {
            stream,
            snapshot,
            reply,
        };
        (Self::Snapshot(request), Acknowledgement(acknowledged))
    }
}

/// Every request of a group that did not commit fails alike. The message
/// is generic on purpose: database errors are logged, never returned.
pub fn fail_all(group: &[WriteRequest]) -> Vec<WriteResult> {
    let failed = || StoreError::Unavailable("commit failed".into());
    group
        .iter()
        .map(|request| match request {
            WriteRequest::Append(_) => WriteResult::Append(Err(failed())),
            WriteRequest::Access(_) => WriteResult::Access(Err(failed())),
            WriteRequest::Probe(_) => WriteResult::Probe(Err(failed())),
            WriteRequest::Snapshot(_) => WriteResult::Snapshot(Err(failed())),
        })
        .collect()
}

/// Whether a group holds write probes only: its failure is readiness's to
/// report, not an error of any caller's write.
pub fn only_probes(group: &[WriteRequest]) -> bool {
    group
        .iter()
        .all(|request| matches!(request, WriteRequest::Probe(_)))
}

/// Hands each request its result; `results` is in the group's order.
pub fn answer_all(group: Vec<WriteRequest>, results: Vec<WriteResult>) {
    for (request, result) in group.into_iter().zip(results) {
        // The caller may have given up waiting; the write stands anyway.
        match (request, result) {
            (WriteRequest::Append(r), WriteResult::Append(result)) => {
                let _ = r.reply.send(result);
            }
            (WriteRequest::Access(r), WriteResult::Access(result)) => {
                let _ = r.reply.send(result);
            }
            (WriteRequest::Probe(r), WriteResult::Probe(result)) => {
                // The gate opens before the answer lands, so the caller's
                // next probe is never refused as unanswered.
                let ProbeRequest { reply, in_flight } = r;
                drop(in_flight);
                let _ = reply.send(result);
            }
            (WriteRequest::Snapshot(r), WriteResult::Snapshot(result)) => {
                let _ = r.reply.send(result);
            }
            _ => unreachable!("results are produced in request order and kind"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TenantId;

    #[test]
    fn each_caller_gets_its_own_answer_and_a_failed_group_fails_everyone() {
        let (append, appended) = WriteRequest::append(
            StreamName::new(
                TenantId::parse("t-group").expect("valid tenant"),
                "plan",
                "p-1",
            )
            .expect("valid stream"),
            ExpectedRevision::NoStream,
            Vec::new(),
        );
        let (access, logged) = WriteRequest::access(Vec::new());
        let gate = ProbeGate::default();
        let (probe, probed) = gate.request().expect("open gate");
        let (snapshot, saved) = WriteRequest::snapshot(
            StreamName::new(
                TenantId::parse("t-group").expect("valid tenant"),
                "plan",
                "p-1",
            )
            .expect("valid stream"),
            Snapshot {
                revision: 0,
                schema_version: 1,
                payload: Vec::new(),
            },
        );
        let group = vec![append, access, probe, snapshot];
        let results = fail_all(&group);
        answer_all(group, results);
        let appended = futures::executor::block_on(appended.wait());
        let logged = futures::executor::block_on(logged.wait());
        let probed = futures::executor::block_on(probed.wait());
        let saved = futures::executor::block_on(saved.wait());
        assert!(matches!(appended, Err(StoreError::Unavailable(ref m)) if m == "commit failed"));
        assert!(matches!(logged, Err(StoreError::Unavailable(ref m)) if m == "commit failed"));
        assert!(matches!(probed, Err(StoreError::Unavailable(ref m)) if m == "commit failed"));
        assert!(matches!(saved, Err(StoreError::Unavailable(ref m)) if m == "commit failed"));
    }

    #[test]
    fn one_probe_waits_at_a_time_and_an_answer_opens_the_gate() {
        let gate = ProbeGate::default();
        let (probe, answered) = gate.request().expect("the gate starts open");
        assert!(gate.request().is_none(), "a second probe waits for none");
        answer_all(vec![probe], vec![WriteResult::Probe(Ok(()))]);
        assert!(futures::executor::block_on(answered.wait()).is_ok());
        let (probe, answered) = gate.request().expect("open again once answered");
        drop(probe);
        assert!(futures::executor::block_on(answered.wait()).is_err());
        assert!(gate.request().is_some(), "a dropped probe opens it too");
    }

    #[test]
    fn a_dropped_writer_reads_as_stopped() {
        let (request, acknowledged) = WriteRequest::access(Vec::new());
        drop(request);
        let answer = futures::executor::block_on(acknowledged.wait());
        assert!(matches!(answer, Err(StoreError::Unavailable(ref m)) if m.contains("stopped")));
    }
}
