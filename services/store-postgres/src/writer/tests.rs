//! One group, decided in memory and written in one transaction: appends to
//! one stream chain on each other, a refused one in the middle leaves
//! nothing and fails no neighbour, retries within the group are known.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use trellis_kernel::group_commit::{
    Acknowledgement, AppendRequest, ProbeGate, WriteRequest, answer_all,
};
use trellis_kernel::{
    AccessQuery, AccessRecord, AppendOutcome, ChainInput, EventHash, ExpectedRevision, NewEvent,
    ReadDirection, RecordedEvent, StoreError, StreamName, chain_hash,
};
use trellis_store_conformance::{fresh_tenant, plan_stream, sample_event};

use super::commit_group;
use super::plan::{Plan, Stored};
use crate::schema::{self, CHANNEL};

fn append(stream: &StreamName, expected: ExpectedRevision, events: &[&NewEvent]) -> AppendRequest {
    let events = events.iter().map(|e| (*e).clone()).collect();
    match WriteRequest::append(stream.clone(), expected, events).0 {
        WriteRequest::Append(request) => request,
        _ => unreachable!("an append request"),
    }
}

fn seq(event: &RecordedEvent) -> u64 {
    let payload: serde_json::Value = serde_json::from_slice(&event.payload).unwrap();
    payload["seq"].as_u64().unwrap()
}

#[test]
fn appends_to_one_stream_chain_in_group_order_around_a_refused_one() {
    let stream = plan_stream(&fresh_tenant(), "a");
    let e: Vec<NewEvent> = (0..5).map(sample_event).collect();
    let group = [
        append(&stream, ExpectedRevision::NoStream, &[&e[0]]),
        append(&stream, ExpectedRevision::Exact(0), &[&e[1], &e[2]]),
        // Stale: the stream is at revision 2 by now.
        append(&stream, ExpectedRevision::Exact(0), &[&e[3]]),
        append(&stream, ExpectedRevision::Exact(2), &[&e[4]]),
    ];
    let appends: Vec<&AppendRequest> = group.iter().collect();
    let mut clock = 100;
    let plan = Plan::decide(&appends, HashMap::new(), Vec::new(), || {
        clock += 1;
        clock
    });
    let rows: Vec<(u64, i64)> = plan
        .rows
        .iter()
        .map(|row| (row.revision, row.recorded_at_us))
        .collect();
    assert_eq!(rows, [(0, 101), (1, 102), (2, 102), (3, 103)]);
    let mut previous = EventHash::GENESIS;
    for (row, event) in plan.rows.iter().zip([&e[0], &e[1], &e[2], &e[4]]) {
        assert_eq!(row.event.event_id, event.event_id);
        let input = ChainInput::new_event(&stream, row.revision, event, row.recorded_at_us);
        assert_eq!(row.hash, chain_hash(&previous, &input));
        previous = row.hash;
    }
    let outcomes = plan.outcomes(&[10, 11, 12, 13]).unwrap();
    let outcome = |revision, position| {
        Ok::<_, StoreError>(AppendOutcome {
            last_revision: revision,
            last_position: position,
            deduplicated: false,
        })
    };
    assert_eq!(outcomes[0].as_ref().ok(), outcome(0, 10).as_ref().ok());
    assert_eq!(outcomes[1].as_ref().ok(), outcome(2, 12).as_ref().ok());
    assert!(matches!(
        outcomes[2],
        Err(StoreError::WrongExpectedRevision {
            actual: Some(2),
            ..
        })
    ));
    assert_eq!(outcomes[3].as_ref().ok(), outcome(3, 13).as_ref().ok());
}

#[test]
fn ids_are_checked_against_the_table_the_group_and_the_append_itself() {
    let tenant = fresh_tenant();
    let (a, b) = (plan_stream(&tenant, "a"), plan_stream(&tenant, "b"));
    let e: Vec<NewEvent> = (0..4).map(sample_event).collect();
    let stored = vec![Stored {
        event_id: e[0].event_id,
        stream: a.to_string(),
        revision: 0,
        position: 7,
    }];
    let heads = HashMap::from([(a.to_string(), (0, EventHash([3; 32])))]);
    let group = [
        // A late retry of what is stored: its first outcome.
        append(&a, ExpectedRevision::NoStream, &[&e[0]]),
        // A new id and the stored one, to another stream: a reused id.
        append(&b, ExpectedRevision::Any, &[&e[1], &e[0]]),
        append(&b, ExpectedRevision::NoStream, &[&e[2]]),
        // The same append again within the group: acknowledged once.
        append(&b, ExpectedRevision::NoStream, &[&e[2]]),
        append(&b, ExpectedRevision::Any, &[&e[3], &e[3]]),
    ];
    let appends: Vec<&AppendRequest> = group.iter().collect();
    let plan = Plan::decide(&appends, heads, stored, || 1);
    assert_eq!(plan.rows.len(), 1, "only e2 is new");
    assert_eq!(plan.rows[0].event.event_id, e[2].event_id);
    let outcomes = plan.outcomes(&[20]).unwrap();
    let retry = |revision, position| AppendOutcome {
        last_revision: revision,
        last_position: position,
        deduplicated: true,
    };
    assert_eq!(*outcomes[0].as_ref().unwrap(), retry(0, 7));
    assert!(matches!(outcomes[1], Err(StoreError::DuplicateEventId(id)) if id == e[0].event_id));
    assert!(!outcomes[2].as_ref().unwrap().deduplicated);
    assert_eq!(*outcomes[3].as_ref().unwrap(), retry(0, 20));
    assert!(matches!(outcomes[4], Err(StoreError::DuplicateEventId(id)) if id == e[3].event_id));
}

async fn test_pool() -> PgPool {
    let url = match std::env::var("TRELLIS_TEST_POSTGRES_URL") {
        Ok(url) => url,
        Err(_) => crate::ensure_database(
            "postgres://postgres@127.0.0.1:5432/postgres",
            "trellis_test",
        )
        .await
        .expect("PostgreSQL reachable (./scripts/services-up starts it)"),
    };
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .unwrap();
    schema::migrate(&pool).await.unwrap();
    pool
}

fn access_record(tenant: &trellis_kernel::TenantId, plan: &str, n: usize) -> AccessRecord {
    AccessRecord {
        tenant: tenant.clone(),
        subject: "clinician-7".into(),
        role: "clinician".into(),
        plan_id: Some(plan.into()),
        operation: format!("graphql:plan-{n}"),
        fields: vec!["goals".into(), format!("field-{n}")],
        api: "graphql".into(),
        address: "127.0.0.1:1".into(),
        request_id: format!("req-{n}"),
        at: Utc::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_group_with_a_refused_append_in_the_middle_commits_the_rest() {
    let pool = test_pool().await;
    let tenant = fresh_tenant();
    let (a, b) = (plan_stream(&tenant, "a"), plan_stream(&tenant, "b"));
    let e: Vec<NewEvent> = (0..7).map(sample_event).collect();
    let mut acks: Vec<Acknowledgement<AppendOutcome>> = Vec::new();
    let mut group = Vec::new();
    let mut push = |stream: &StreamName, expected, events: &[&NewEvent]| {
        let events = events.iter().map(|e| (*e).clone()).collect();
        let (request, ack) = WriteRequest::append(stream.clone(), expected, events);
        group.push(request);
        acks.push(ack);
    };
    push(&a, ExpectedRevision::NoStream, &[&e[0]]);
    push(&b, ExpectedRevision::NoStream, &[&e[1]]);
    push(&a, ExpectedRevision::Exact(0), &[&e[2], &e[3]]);
    push(&a, ExpectedRevision::Exact(0), &[&e[4]]); // refused: a is at 2
    push(&a, ExpectedRevision::Exact(2), &[&e[5]]);
    push(&b, ExpectedRevision::Any, &[&e[6], &e[0]]); // refused: e0 is a's
    let (access, logged) = WriteRequest::access(vec![
        access_record(&tenant, "a", 0),
        access_record(&tenant, "a", 1),
    ]);
    group.insert(3, access);
    let probes = ProbeGate::default();
    let (probe, probed) = probes.request().unwrap();
    group.push(probe);

    let mut listener = PgListener::connect_with(&pool).await.unwrap();
    listener.listen(CHANNEL).await.unwrap();
    let results = commit_group(&pool, &group)
        .await
        .expect("the group commits");
    answer_all(group, results);
    let mut outcomes = Vec::new();
    for ack in acks {
        outcomes.push(ack.wait().await);
    }
    logged
        .wait()
        .await
        .expect("access records committed with the group");
    probed
        .wait()
        .await
        .expect("the probe committed with the group");

    let revisions: Vec<_> = outcomes
        .iter()
        .map(|o| o.as_ref().ok().map(|o| o.last_revision))
        .collect();
    assert_eq!(revisions, [Some(0), Some(0), Some(2), None, Some(3), None]);
    assert!(matches!(
        outcomes[3],
        Err(StoreError::WrongExpectedRevision {
            actual: Some(2),
            ..
        })
    ));
    assert!(matches!(outcomes[5], Err(StoreError::DuplicateEventId(id)) if id == e[0].event_id));

    let stored = schema::read_stream(&pool, &a, ReadDirection::Forward, None, 10)
        .await
        .unwrap();
    assert_eq!(stored.iter().map(seq).collect::<Vec<_>>(), [0, 2, 3, 5]);
    let mut previous = EventHash::GENESIS;
    for (revision, event) in stored.iter().enumerate() {
        assert_eq!(event.revision, revision as u64);
        assert_eq!(
            event.hash,
            chain_hash(&previous, &ChainInput::recorded(event))
        );
        previous = event.hash;
    }
    let positions: Vec<u64> = stored.iter().map(|e| e.global_position).collect();
    assert!(positions.windows(2).all(|p| p[0] < p[1]), "{positions:?}");
    let acknowledged = |i: usize| outcomes[i].as_ref().unwrap().last_position;
    assert_eq!(
        [acknowledged(0), acknowledged(2), acknowledged(4)],
        [positions[0], positions[2], positions[3]]
    );
    let in_b = schema::read_stream(&pool, &b, ReadDirection::Forward, None, 10)
        .await
        .unwrap();
    assert_eq!(in_b.iter().map(seq).collect::<Vec<_>>(), [1]);
    assert!(acknowledged(0) < in_b[0].global_position);
    assert!(in_b[0].global_position < positions[1]);
    // Listeners hear of the group's last position (other tests' groups
    // may be heard first).
    let notified = async {
        loop {
            let heard = listener.recv().await.unwrap();
            if heard.payload().parse::<u64>().unwrap() >= positions[3] {
                break heard.payload().parse::<u64>().unwrap();
            }
        }
    };
    let notified = tokio::time::timeout(Duration::from_secs(10), notified).await;
    assert_eq!(notified.expect("a notification"), positions[3]);

    let logged = schema::query_access(&pool, &tenant, &AccessQuery::Plan("a".into()), 0, 10)
        .await
        .unwrap();
    let operations: Vec<_> = logged.iter().map(|l| l.record.operation.as_str()).collect();
    assert_eq!(operations, ["graphql:plan-0", "graphql:plan-1"]);
    assert_eq!(logged[1].record.fields, ["goals", "field-1"]);
    assert!(logged[0].id < logged[1].id);
}
