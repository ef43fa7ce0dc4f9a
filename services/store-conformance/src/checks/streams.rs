//! One stream: appending and reading it, expected revisions, retries,
//! event ids, and the envelope kept exactly.

use trellis_kernel::{ExpectedRevision, ReadDirection, StoreError};

use crate::fixtures::{Store, fresh_tenant, plan_stream, sample_event, seqs, tenant_events};

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
