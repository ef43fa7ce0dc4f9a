//! Two writer processes (two store handles, two pools) append at once; a
//! subscriber from a third must see every committed event, in increasing
//! global order, none skipped and none twice.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use trellis_kernel::{ExpectedRevision, SubscriptionMessage};
use trellis_store_conformance::{fresh_tenant, plan_stream, sample_event};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_never_skips_an_event_committed_by_another_writer() {
    const PER_WRITER: u64 = 150;
    let tenant = fresh_tenant();
    let reader = support::fresh_store().await;
    let head = reader
        .read_all(None, usize::MAX >> 1)
        .await
        .unwrap()
        .last()
        .map(|e| e.global_position);
    let mut subscription = reader.subscribe_all(head).await.unwrap();

    let mut writers = Vec::new();
    for w in 0..2 {
        let store = support::fresh_store().await;
        let tenant = tenant.clone();
        writers.push(tokio::spawn(async move {
            // Several streams per writer so appends interleave in one group.
            let mut tasks = Vec::new();
            for s in 0..4 {
                let store = store.clone();
                let stream = plan_stream(&tenant, &format!("w{w}s{s}"));
                tasks.push(tokio::spawn(async move {
                    for k in 0..PER_WRITER / 4 {
                        store
                            .append(&stream, ExpectedRevision::after(k), vec![sample_event(k)])
                            .await
                            .unwrap();
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }

    let expected = 2 * 4 * (PER_WRITER / 4);
    let mut seen = HashSet::new();
    let mut last = head.unwrap_or(0);
    while (seen.len() as u64) < expected {
        let message = tokio::time::timeout(Duration::from_secs(20), subscription.next())
            .await
            .expect("every event arrives")
            .unwrap()
            .unwrap();
        let SubscriptionMessage::Event(event) = message else {
            continue;
        };
        assert!(event.global_position > last, "positions only increase");
        last = event.global_position;
        if event.tenant() == &tenant {
            assert!(seen.insert(event.event_id), "delivered once");
        }
    }
    // Nothing this tenant wrote is missing from what the reader can read.
    let stored: Vec<_> = reader
        .read_all(head, usize::MAX >> 1)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.tenant() == &tenant)
        .collect();
    assert_eq!(stored.len() as u64, expected);
    assert!(stored.iter().all(|e| seen.contains(&e.event_id)));
}
