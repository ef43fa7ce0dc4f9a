//! Across streams: the global order, tenants kept apart, concurrent
//! writers, catch-up subscriptions, hash chains and stream heads.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use trellis_kernel::{
    ChainInput, EventHash, ExpectedRevision, ReadDirection, StoreError, SubscriptionMessage,
    SubscriptionStream, TenantId, chain_hash,
};

use crate::fixtures::{Store, fresh_tenant, plan_stream, sample_event, seqs, tenant_events};

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

/// A write probe succeeds on a healthy store and writes no event: the
/// tenant's streams and history are as they were, and the last position
/// (where the store gives one) still covers the last append.
pub async fn a_write_probe_appends_nothing(store: Store) {
    let tenant = fresh_tenant();
    let stream = plan_stream(&tenant, "probed");
    let appended = store
        .append(&stream, ExpectedRevision::NoStream, vec![sample_event(0)])
        .await
        .unwrap();
    let heads = store.stream_heads(&tenant).await.unwrap();
    for _ in 0..3 {
        store
            .probe_write()
            .await
            .expect("a healthy store takes a write probe");
    }
    assert_eq!(store.stream_heads(&tenant).await.unwrap(), heads);
    assert_eq!(seqs(&tenant_events(&store, &tenant).await), [0]);
    if let Some(last) = store.last_position().await.unwrap() {
        assert!(last >= appended.last_position, "{last} < {appended:?}");
    }
    let next = store
        .append(&stream, ExpectedRevision::Exact(0), vec![sample_event(1)])
        .await
        .unwrap();
    assert_eq!(next.last_revision, 1, "the probe took no revision");
}
