//! Snapshots: the latest revision wins, streams and tenants are kept
//! apart, and a snapshot is never part of the record (no event, no global
//! position, no revision, no stream head).

use std::future::Future;

use trellis_kernel::{ExpectedRevision, ReadDirection, Snapshot, StreamName};

use crate::fixtures::{
    Snapshots, Store, fresh_tenant, plan_stream, sample_event, sample_snapshot, seqs, tenant_events,
};

pub async fn a_stream_has_no_snapshot_at_first(events: Store, snapshots: Snapshots) {
    let stream = plan_stream(&fresh_tenant(), "unsnapped");
    assert_eq!(snapshots.load_snapshot(&stream).await.unwrap(), None);
    events
        .append(&stream, ExpectedRevision::NoStream, vec![sample_event(0)])
        .await
        .unwrap();
    assert_eq!(
        snapshots.load_snapshot(&stream).await.unwrap(),
        None,
        "appending makes no snapshot"
    );
}

pub async fn a_saved_snapshot_loads_back(_events: Store, snapshots: Snapshots) {
    let stream = plan_stream(&fresh_tenant(), "snapped");
    let first = sample_snapshot(2, 1, "first");
    snapshots
        .save_snapshot(&stream, first.clone())
        .await
        .unwrap();
    assert_eq!(snapshots.load_snapshot(&stream).await.unwrap(), Some(first));
    // A later revision replaces it, in the encoding of the code that saved it.
    let later = sample_snapshot(3, 2, "later");
    snapshots
        .save_snapshot(&stream, later.clone())
        .await
        .unwrap();
    assert_eq!(snapshots.load_snapshot(&stream).await.unwrap(), Some(later));
    // Empty payloads are payloads too.
    let empty = Snapshot {
        revision: 10,
        schema_version: 2,
        payload: Vec::new(),
    };
    snapshots
        .save_snapshot(&stream, empty.clone())
        .await
        .unwrap();
    assert_eq!(snapshots.load_snapshot(&stream).await.unwrap(), Some(empty));
}

pub async fn an_older_snapshot_does_not_replace_a_newer(_events: Store, snapshots: Snapshots) {
    let stream = plan_stream(&fresh_tenant(), "stale");
    let newer = sample_snapshot(5, 1, "newer");
    snapshots
        .save_snapshot(&stream, newer.clone())
        .await
        .unwrap();
    snapshots
        .save_snapshot(&stream, sample_snapshot(3, 2, "older"))
        .await
        .expect("a stale snapshot is no error: it is just not kept");
    assert_eq!(snapshots.load_snapshot(&stream).await.unwrap(), Some(newer));
}

pub async fn the_same_revision_does_not_replace(_events: Store, snapshots: Snapshots) {
    let stream = plan_stream(&fresh_tenant(), "twice");
    let first = sample_snapshot(5, 1, "first");
    snapshots
        .save_snapshot(&stream, first.clone())
        .await
        .unwrap();
    snapshots
        .save_snapshot(&stream, sample_snapshot(5, 2, "second"))
        .await
        .unwrap();
    assert_eq!(snapshots.load_snapshot(&stream).await.unwrap(), Some(first));
}

pub async fn snapshots_are_kept_per_stream_and_per_tenant(_events: Store, snapshots: Snapshots) {
    let (one, two) = (fresh_tenant(), fresh_tenant());
    let one_same = plan_stream(&one, "same");
    let two_same = plan_stream(&two, "same");
    let one_other = plan_stream(&one, "other");
    let one_template = StreamName::new(one.clone(), "template", "same").expect("stream name");
    let kept_one = sample_snapshot(3, 1, "one");
    let kept_two = sample_snapshot(1, 1, "two");
    snapshots
        .save_snapshot(&one_same, kept_one.clone())
        .await
        .unwrap();
    snapshots
        .save_snapshot(&two_same, kept_two.clone())
        .await
        .unwrap();
    assert_eq!(
        snapshots.load_snapshot(&one_same).await.unwrap(),
        Some(kept_one.clone())
    );
    assert_eq!(
        snapshots.load_snapshot(&two_same).await.unwrap(),
        Some(kept_two),
        "another tenant's stream of the same id has its own snapshot"
    );
    assert_eq!(snapshots.load_snapshot(&one_other).await.unwrap(), None);
    assert_eq!(snapshots.load_snapshot(&one_template).await.unwrap(), None);
    // A later revision in one stream leaves the others alone.
    let later_two = sample_snapshot(9, 1, "two later");
    snapshots
        .save_snapshot(&two_same, later_two.clone())
        .await
        .unwrap();
    assert_eq!(
        snapshots.load_snapshot(&one_same).await.unwrap(),
        Some(kept_one)
    );
    assert_eq!(
        snapshots.load_snapshot(&two_same).await.unwrap(),
        Some(later_two)
    );
}

/// Saves racing for one stream, in scrambled order: the latest revision is
/// what stays, whichever save lands last.
pub async fn concurrent_saves_keep_the_latest(_events: Store, snapshots: Snapshots) {
    const SAVES: u64 = 32;
    let stream = plan_stream(&fresh_tenant(), "raced");
    // 13 is coprime to 32: every revision once, out of order.
    let tasks: Vec<_> = (0..SAVES)
        .map(|i| (i * 13) % SAVES)
        .map(|revision| {
            let (snapshots, stream) = (snapshots.clone(), stream.clone());
            tokio::spawn(async move {
                let snapshot = sample_snapshot(revision, 1, &format!("r{revision}"));
                snapshots.save_snapshot(&stream, snapshot).await
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("save task").expect("save");
    }
    assert_eq!(
        snapshots.load_snapshot(&stream).await.unwrap(),
        Some(sample_snapshot(SAVES - 1, 1, &format!("r{}", SAVES - 1)))
    );
}

/// Snapshots are a cache beside the record: saving one appends no event,
/// takes no revision or global position, makes no stream head and does
/// not create its stream; appends carry on as if it were not there.
pub async fn snapshots_stay_out_of_the_record(events: Store, snapshots: Snapshots) {
    let tenant = fresh_tenant();
    let stream = plan_stream(&tenant, "snapped");
    let never_appended = plan_stream(&tenant, "never");
    let appended = events
        .append(
            &stream,
            ExpectedRevision::NoStream,
            vec![sample_event(0), sample_event(1)],
        )
        .await
        .unwrap();
    let heads = events.stream_heads(&tenant).await.unwrap();
    let history = events
        .read_stream(&stream, ReadDirection::Forward, None, 100)
        .await
        .unwrap();
    let before = events.last_position().await.unwrap();

    let kept = sample_snapshot(1, 1, "folded");
    snapshots
        .save_snapshot(&stream, kept.clone())
        .await
        .unwrap();
    snapshots
        .save_snapshot(&never_appended, sample_snapshot(7, 1, "orphan"))
        .await
        .unwrap();

    assert_eq!(
        events.stream_heads(&tenant).await.unwrap(),
        heads,
        "a snapshot is no stream head"
    );
    assert_eq!(
        events
            .read_stream(&stream, ReadDirection::Forward, None, 100)
            .await
            .unwrap(),
        history
    );
    assert!(
        events
            .read_stream(&never_appended, ReadDirection::Backward, None, 10)
            .await
            .unwrap()
            .is_empty(),
        "a snapshot does not make its stream"
    );
    assert_eq!(seqs(&tenant_events(&events, &tenant).await), [0, 1]);
    if let Some(before) = before {
        let after = events.last_position().await.unwrap();
        // Other writers may share the store; when none appended since,
        // the last position must not have moved.
        let since = events.read_all(Some(before), 1).await.unwrap();
        if since.is_empty() {
            assert_eq!(after, Some(before), "a snapshot takes no global position");
        }
    }

    let next = events
        .append(&stream, ExpectedRevision::Exact(1), vec![sample_event(2)])
        .await
        .expect("a snapshot takes no revision");
    assert_eq!(next.last_revision, 2);
    assert!(next.last_position > appended.last_position);
    events
        .append(
            &never_appended,
            ExpectedRevision::NoStream,
            vec![sample_event(3)],
        )
        .await
        .expect("the snapshotted stream still has no events");
    assert_eq!(
        snapshots.load_snapshot(&stream).await.unwrap(),
        Some(kept),
        "appends leave the snapshot as it was"
    );
}

/// A saved snapshot is there after the store is opened again. `open`
/// opens the same backing store (file or database) each time it is
/// called; the first handles are dropped before the second open.
pub async fn a_saved_snapshot_survives_reopen<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = (Store, Snapshots)>,
{
    let stream = plan_stream(&fresh_tenant(), "reopened");
    let kept = sample_snapshot(0, 1, "kept");
    {
        let (events, snapshots) = open().await;
        events
            .append(&stream, ExpectedRevision::NoStream, vec![sample_event(0)])
            .await
            .unwrap();
        snapshots
            .save_snapshot(&stream, kept.clone())
            .await
            .unwrap();
    }
    let (events, snapshots) = open().await;
    assert_eq!(snapshots.load_snapshot(&stream).await.unwrap(), Some(kept));
    let stored = events
        .read_stream(&stream, ReadDirection::Forward, None, 10)
        .await
        .unwrap();
    assert_eq!(seqs(&stored), [0]);
}
