//! The queue a store's single writer drains: appends and access records
//! wait together, are committed in one transaction (one fsync), and each
//! caller gets its own answer. Shared by the SQL stores so the protocol
//! between callers and the writer is written once.

use futures::channel::oneshot;

use crate::{AccessRecord, AppendOutcome, ExpectedRevision, NewEvent, StoreError, StreamName};

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

/// Everything the writer commits: appends and access records share fsyncs.
#[derive(Debug)]
pub enum WriteRequest {
    Append(AppendRequest),
    Access(AccessRequest),
}

/// The writer's answer to one request, in the request's kind.
#[derive(Debug)]
pub enum WriteResult {
    Append(Result<AppendOutcome, StoreError>),
    Access(Result<(), StoreError>),
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
        })
        .collect()
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
        let group = vec![append, access];
        let results = fail_all(&group);
        answer_all(group, results);
        let appended = futures::executor::block_on(appended.wait());
        let logged = futures::executor::block_on(logged.wait());
        assert!(matches!(appended, Err(StoreError::Unavailable(ref m)) if m == "commit failed"));
        assert!(matches!(logged, Err(StoreError::Unavailable(ref m)) if m == "commit failed"));
    }

    #[test]
    fn a_dropped_writer_reads_as_stopped() {
        let (request, acknowledged) = WriteRequest::access(Vec::new());
        drop(request);
        let answer = futures::executor::block_on(acknowledged.wait());
        assert!(matches!(answer, Err(StoreError::Unavailable(ref m)) if m.contains("stopped")));
    }
}
