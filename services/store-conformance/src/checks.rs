//! The checks themselves. Each takes a store and panics on a violation.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use trellis_kernel::{
    ChainInput, EventHash, EventStore, ExpectedRevision, ReadDirection, RecordedEvent, StoreError,
    SubscriptionMessage, SubscriptionStream, TenantId, chain_hash,
};

use crate::{fresh_tenant, plan_stream, sample_event};

type Store = Arc<dyn EventStore>;

fn seqs(events: &[RecordedEvent]) -> Vec<u64> {
    events
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_slice(&e.payload).expect("json payload");
            v["seq"].as_u64().expect("seq")
        })
        .collect()
}

async fn tenant_events(store: &Store, tenant: &TenantId) -> Vec<RecordedEvent> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store.read_all(after, 500).await.expect("read_all");
        let Some(last) = page.last() else { break };
        after = Some(last.global_position);
        all.extend(page.into_iter().filter(|e| e.tenant() == tenant));
    }
    all
}

pub async fn appends_and_reads_a_stream_forward_and_backward(store: Store) {
    let tenant = fresh_tenant();
    let stream = plan_stream(&tenant, "a");
    let first = store
        .append(
            &stream,
            ExpectedRevision::NoStream,
            vec![sample_event(0), sample_event(1)],
        )
        .await
        .expect("first append");
    assert_eq!(first.last_revision, 1);
    assert!(!first.deduplicated);
    let second = store
        .append(&stream, ExpectedRevision::Exact(1), vec![sample_event(2)])
        .await
        .expect("second append");
    assert_eq!(second.last_revision, 2);
    assert!(second.last_position > first.last_position);

    let forward = store
        .read_stream(&stream, ReadDirection::Forward, None, 10)
        .await
        .unwrap();
    assert_eq!(seqs(&forward), [0, 1, 2]);
    assert_eq!(
        forward.iter().map(|e| e.revision).collect::<Vec<_>>(),
        [0, 1, 2]
    );

    let backward = store
        .read_stream(&stream, ReadDirection::Backward, None, 2)
        .await
        .unwrap();
    assert_eq!(seqs(&backward), [2, 1]);

    let from_one = store
        .read_stream(&stream, ReadDirection::Forward, Some(1), 10)
        .await
        .unwrap();
    assert_eq!(seqs(&from_one), [1, 2]);
    let back_from_one = store
        .read_stream(&stream, ReadDirection::Backward, Some(1), 10)
        .await
        .unwrap();
    assert_eq!(seqs(&back_from_one), [1, 0]);
}

pub async fn reading_a_missing_stream_is_empty(store: Store) {
    let tenant = fresh_tenant();
    let events = store
        .read_stream(
            &plan_stream(&tenant, "nobody"),
            ReadDirection::Forward,
            None,
            10,
        )
        .await
        .unwrap();
    assert!(events.is_empty());
}

pub async fn an_empty_append_is_refused(store: Store) {
    let tenant = fresh_tenant();
    let err = store
        .append(&plan_stream(&tenant, "a"), ExpectedRevision::Any, vec![])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::EmptyAppend), "{err:?}");
}

pub async fn expected_revision_is_enforced(store: Store) {
    let tenant = fresh_tenant();
    let stream = plan_stream(&tenant, "a");
    store
        .append(&stream, ExpectedRevision::NoStream, vec![sample_event(0)])
        .await
        .unwrap();

    let err = store
        .append(&stream, ExpectedRevision::NoStream, vec![sample_event(1)])
        .await
        .unwrap_err();
    match err {
        StoreError::WrongExpectedRevision {
            expected, actual, ..
        } => {
            assert_eq!(expected, ExpectedRevision::NoStream);
            assert_eq!(actual, Some(0));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let err = store
        .append(&stream, ExpectedRevision::Exact(5), vec![sample_event(1)])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::WrongExpectedRevision {
                actual: Some(0),
                ..
            }
        ),
        "{err:?}"
    );
    let missing = plan_stream(&tenant, "missing");
    let err = store
        .append(&missing, ExpectedRevision::Exact(0), vec![sample_event(1)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::WrongExpectedRevision { actual: None, .. }),
        "{err:?}"
    );

    let any = store
        .append(&stream, ExpectedRevision::Any, vec![sample_event(1)])
        .await
        .unwrap();
    assert_eq!(any.last_revision, 1);
}

pub async fn a_failed_append_writes_nothing(store: Store) {
    let tenant = fresh_tenant();
    let a = plan_stream(&tenant, "a");
    let b = plan_stream(&tenant, "b");
    let taken = sample_event(0);
    store
        .append(&a, ExpectedRevision::NoStream, vec![taken.clone()])
        .await
        .unwrap();
    // The second event reuses an id stored in stream a: the whole batch,
    // including its first event, must be refused.
    let err = store
        .append(
            &b,
            ExpectedRevision::NoStream,
            vec![sample_event(1), taken.clone()],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::DuplicateEventId(id) if id == taken.event_id),
        "{err:?}"
    );
    let in_b = store
        .read_stream(&b, ReadDirection::Forward, None, 10)
        .await
        .unwrap();
    assert!(
        in_b.is_empty(),
        "a refused batch left {} events",
        in_b.len()
    );
    assert_eq!(tenant_events(&store, &tenant).await.len(), 1);
}

pub async fn a_refused_batch_writes_nothing(store: Store) {
    let tenant = fresh_tenant();
    let stream = plan_stream(&tenant, "a");
    store
        .append(&stream, ExpectedRevision::NoStream, vec![sample_event(0)])
        .await
        .unwrap();
    let err = store
        .append(
            &stream,
            ExpectedRevision::Exact(7),
            vec![sample_event(1), sample_event(2), sample_event(3)],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::WrongExpectedRevision { .. }),
        "{err:?}"
    );
    let stored = store
        .read_stream(&stream, ReadDirection::Forward, None, 10)
        .await
        .unwrap();
    assert_eq!(
        seqs(&stored),
        [0],
        "no event of the refused batch was written"
    );
}

pub async fn a_retried_append_is_acknowledged_once(store: Store) {
    let tenant = fresh_tenant();
    let stream = plan_stream(&tenant, "a");
    let batch = vec![sample_event(0), sample_event(1)];
    let first = store
        .append(&stream, ExpectedRevision::NoStream, batch.clone())
        .await
        .unwrap();
    store
        .append(&stream, ExpectedRevision::Exact(1), vec![sample_event(2)])
        .await
        .unwrap();
    // The retry arrives late, with an expectation that no longer holds: it
    // is still recognised by its event ids and acknowledged as before.
    let retry = store
        .append(&stream, ExpectedRevision::NoStream, batch)
        .await
        .expect("retry is acknowledged");
    assert!(retry.deduplicated);
    assert_eq!(retry.last_revision, first.last_revision);
    assert_eq!(retry.last_position, first.last_position);
    let stored = store
        .read_stream(&stream, ReadDirection::Forward, None, 10)
        .await
        .unwrap();
    assert_eq!(seqs(&stored), [0, 1, 2]);
}

pub async fn an_event_id_reused_elsewhere_is_refused(store: Store) {
    let tenant = fresh_tenant();
    let event = sample_event(0);
    store
        .append(
            &plan_stream(&tenant, "a"),
            ExpectedRevision::Any,
            vec![event.clone()],
        )
        .await
        .unwrap();
    let err = store
        .append(
            &plan_stream(&tenant, "b"),
            ExpectedRevision::Any,
            vec![event.clone()],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::DuplicateEventId(id) if id == event.event_id),
        "{err:?}"
    );
}

pub async fn the_envelope_round_trips(store: Store) {
    let tenant = fresh_tenant();
    let stream = plan_stream(&tenant, "a");
    let mut event = sample_event(7);
    event.metadata.reason = Some("entered in error: wrong client".into());
    event.schema_version = 3;
    let before = chrono_now_us();
    let outcome = store
        .append(&stream, ExpectedRevision::NoStream, vec![event.clone()])
        .await
        .unwrap();
    let stored = store
        .read_stream(&stream, ReadDirection::Forward, None, 1)
        .await
        .unwrap()
        .pop()
        .expect("one event");
    assert_eq!(stored.event_id, event.event_id);
    assert_eq!(&stored.stream, &stream);
    assert_eq!(stored.tenant(), &tenant);
    assert_eq!(stored.revision, 0);
    assert_eq!(stored.global_position, outcome.last_position);
    assert_eq!(stored.event_type, "GoalAdded");
    assert_eq!(stored.schema_version, 3);
    assert_eq!(
        stored.payload, event.payload,
        "payload bytes are kept exactly"
    );
    assert_eq!(stored.metadata, event.metadata);
    let recorded_us = stored.recorded_at.timestamp_micros();
    assert!(
        recorded_us >= before - 1_000_000,
        "recorded time is server time"
    );
}

fn chrono_now_us() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since_epoch.as_micros()).expect("fits")
}

pub async fn read_all_follows_global_order(store: Store) {
    let tenant = fresh_tenant();
    let a = plan_stream(&tenant, "a");
    let b = plan_stream(&tenant, "b");
    store
        .append(&a, ExpectedRevision::NoStream, vec![sample_event(0)])
        .await
        .unwrap();
    store
        .append(
            &b,
            ExpectedRevision::NoStream,
            vec![sample_event(1), sample_event(2)],
        )
        .await
        .unwrap();
    store
        .append(&a, ExpectedRevision::Exact(0), vec![sample_event(3)])
        .await
        .unwrap();
    let mine = tenant_events(&store, &tenant).await;
    assert_eq!(seqs(&mine), [0, 1, 2, 3]);
    assert!(
        mine.windows(2)
            .all(|w| w[0].global_position < w[1].global_position),
        "global positions strictly increase"
    );
    // `after` is exclusive and `max_count` is honoured.
    let second = mine[1].global_position;
    let page = store.read_all(Some(second), 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert!(page[0].global_position > second);
}

pub async fn the_same_id_in_two_tenants_is_two_streams(store: Store) {
    let (one, two) = (fresh_tenant(), fresh_tenant());
    store
        .append(
            &plan_stream(&one, "same"),
            ExpectedRevision::NoStream,
            vec![sample_event(1)],
        )
        .await
        .unwrap();
    store
        .append(
            &plan_stream(&two, "same"),
            ExpectedRevision::NoStream,
            vec![sample_event(2)],
        )
        .await
        .expect("another tenant's stream of the same id is a different stream");
    let in_one = store
        .read_stream(&plan_stream(&one, "same"), ReadDirection::Forward, None, 10)
        .await
        .unwrap();
    assert_eq!(seqs(&in_one), [1]);
    assert!(in_one.iter().all(|e| e.tenant() == &one));
}

pub async fn concurrent_writers_to_one_stream_conflict(store: Store) {
    let tenant = fresh_tenant();
    let stream = plan_stream(&tenant, "contended");
    store
        .append(&stream, ExpectedRevision::NoStream, vec![sample_event(0)])
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for seq in 1..=8 {
        let store = Arc::clone(&store);
        let stream = stream.clone();
        tasks.push(tokio::spawn(async move {
            store
                .append(&stream, ExpectedRevision::Exact(0), vec![sample_event(seq)])
                .await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => won += 1,
            Err(StoreError::WrongExpectedRevision { .. }) => {}
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(won, 1, "exactly one writer wins the same expected revision");
    let stored = store
        .read_stream(&stream, ReadDirection::Forward, None, 100)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
}

pub async fn concurrent_writers_to_many_streams_all_land(store: Store) {
    const WRITERS: u64 = 16;
    const APPENDS: u64 = 25;
    let tenant = fresh_tenant();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = Arc::clone(&store);
        let stream = plan_stream(&tenant, &format!("w{w}"));
        tasks.push(tokio::spawn(async move {
            for k in 0..APPENDS {
                store
                    .append(&stream, ExpectedRevision::after(k), vec![sample_event(k)])
                    .await
                    .expect("append");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mine = tenant_events(&store, &tenant).await;
    assert_eq!(mine.len() as u64, WRITERS * APPENDS);
    for w in 0..WRITERS {
        let stream = plan_stream(&tenant, &format!("w{w}"));
        let revisions: Vec<u64> = mine
            .iter()
            .filter(|e| e.stream == stream)
            .map(|e| e.revision)
            .collect();
        assert_eq!(
            revisions,
            (0..APPENDS).collect::<Vec<_>>(),
            "stream w{w} has no gap"
        );
    }
}

/// Next message for `tenant`, skipping other tenants' events.
async fn next_for(sub: &mut SubscriptionStream, tenant: &TenantId) -> SubscriptionMessage {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("subscription delivered within 10 s")
            .expect("subscription still open")
            .expect("subscription healthy");
        match &message {
            SubscriptionMessage::Event(e) if e.tenant() != tenant => continue,
            _ => return message,
        }
    }
}

fn seq_of(message: &SubscriptionMessage) -> u64 {
    match message {
        SubscriptionMessage::Event(e) => seqs(std::slice::from_ref(e))[0],
        SubscriptionMessage::CaughtUp => panic!("expected an event, got CaughtUp"),
    }
}

async fn next_event_for(sub: &mut SubscriptionStream, tenant: &TenantId) -> u64 {
    loop {
        let message = next_for(sub, tenant).await;
        if message != SubscriptionMessage::CaughtUp {
            return seq_of(&message);
        }
    }
}

pub async fn a_subscription_catches_up_then_goes_live(store: Store) {
    let tenant = fresh_tenant();
    let stream = plan_stream(&tenant, "a");
    store
        .append(
            &stream,
            ExpectedRevision::NoStream,
            vec![sample_event(0), sample_event(1)],
        )
        .await
        .unwrap();
    let mut sub = store.subscribe_all(None).await.unwrap();
    assert_eq!(seq_of(&next_for(&mut sub, &tenant).await), 0);
    assert_eq!(seq_of(&next_for(&mut sub, &tenant).await), 1);
    assert_eq!(
        next_for(&mut sub, &tenant).await,
        SubscriptionMessage::CaughtUp,
        "history is followed by the caught-up marker"
    );
    store
        .append(&stream, ExpectedRevision::Exact(1), vec![sample_event(2)])
        .await
        .unwrap();
    assert_eq!(
        next_event_for(&mut sub, &tenant).await,
        2,
        "live event delivered"
    );
}

pub async fn a_subscription_resumes_after_a_checkpoint(store: Store) {
    let tenant = fresh_tenant();
    let stream = plan_stream(&tenant, "a");
    store
        .append(
            &stream,
            ExpectedRevision::NoStream,
            vec![sample_event(0), sample_event(1)],
        )
        .await
        .unwrap();
    let mine = tenant_events(&store, &tenant).await;
    let checkpoint = mine[0].global_position;
    let mut sub = store.subscribe_all(Some(checkpoint)).await.unwrap();
    assert_eq!(
        next_event_for(&mut sub, &tenant).await,
        1,
        "the event at the checkpoint is not delivered again"
    );
    store
        .append(&stream, ExpectedRevision::Exact(1), vec![sample_event(2)])
        .await
        .unwrap();
    assert_eq!(next_event_for(&mut sub, &tenant).await, 2);
}

pub async fn streams_are_hash_chained(store: Store) {
    let tenant = fresh_tenant();
    let stream = plan_stream(&tenant, "a");
    store
        .append(
            &stream,
            ExpectedRevision::NoStream,
            vec![sample_event(0), sample_event(1)],
        )
        .await
        .unwrap();
    store
        .append(&stream, ExpectedRevision::Exact(1), vec![sample_event(2)])
        .await
        .unwrap();
    let events = store
        .read_stream(&stream, ReadDirection::Forward, None, 10)
        .await
        .unwrap();
    let mut previous = EventHash::GENESIS;
    for event in &events {
        assert_eq!(
            event.hash,
            chain_hash(&previous, &ChainInput::recorded(event)),
            "revision {} links to its predecessor",
            event.revision
        );
        previous = event.hash;
    }
    // Another stream starts its own chain from genesis.
    let other = plan_stream(&tenant, "b");
    store
        .append(&other, ExpectedRevision::NoStream, vec![sample_event(3)])
        .await
        .unwrap();
    let first = &store
        .read_stream(&other, ReadDirection::Forward, None, 1)
        .await
        .unwrap()[0];
    assert_eq!(
        first.hash,
        chain_hash(&EventHash::GENESIS, &ChainInput::recorded(first))
    );
}

pub async fn stream_heads_name_every_stream_of_a_tenant(store: Store) {
    let (tenant, other) = (fresh_tenant(), fresh_tenant());
    for id in ["b", "a"] {
        store
            .append(
                &plan_stream(&tenant, id),
                ExpectedRevision::NoStream,
                vec![sample_event(0), sample_event(1)],
            )
            .await
            .unwrap();
    }
    store
        .append(
            &plan_stream(&other, "c"),
            ExpectedRevision::NoStream,
            vec![sample_event(0)],
        )
        .await
        .unwrap();
    let heads = store.stream_heads(&tenant).await.unwrap();
    let names: Vec<String> = heads.iter().map(|h| h.stream.to_string()).collect();
    assert_eq!(
        names,
        [
            plan_stream(&tenant, "a").to_string(),
            plan_stream(&tenant, "b").to_string()
        ],
        "only this tenant's streams, in name order"
    );
    for head in &heads {
        let last = store
            .read_stream(&head.stream, ReadDirection::Backward, None, 1)
            .await
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!((head.revision, head.hash), (last.revision, last.hash));
    }
}
