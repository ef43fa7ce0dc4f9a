//! Readiness: the verdict, its reasons, timeouts, caching, recovery, and
//! the gRPC health status that follows it.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use super::*;

fn args(max_lag: u64, timeout_ms: u64) -> ReadinessArgs {
    ReadinessArgs {
        ready_max_lag_events: max_lag,
        ready_timeout_ms: timeout_ms,
    }
}

/// Readiness that never reuses a verdict, so each call runs the checks.
fn uncached(args: &ReadinessArgs, checks: Vec<Check>) -> Readiness {
    let readiness = Readiness::new(args, checks);
    let inner = Arc::into_inner(readiness.inner).expect("not shared yet");
    Readiness {
        inner: Arc::new(Inner {
            ttl: Duration::ZERO,
            ..inner
        }),
    }
}

/// A part that fails while `failing` is set, and counts its probes.
fn switchable(failure: &'static str, failing: &Arc<AtomicBool>, calls: &Arc<AtomicUsize>) -> Check {
    let (failing, calls) = (Arc::clone(failing), Arc::clone(calls));
    Check::answers(failure, move || {
        calls.fetch_add(1, Ordering::SeqCst);
        let failed = failing.load(Ordering::SeqCst);
        async move {
            if failed {
                Err("disk I/O error at /var/lib/secret".to_owned())
            } else {
                Ok(())
            }
        }
        .boxed()
    })
}

fn hung(failure: &'static str) -> Check {
    Check::answers(failure, || futures::future::pending().boxed())
}

#[tokio::test]
async fn a_store_that_cannot_write_is_not_ready_until_it_can_again() {
    let failing = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let readiness = uncached(
        &args(0, 1_000),
        vec![switchable("event store cannot write", &failing, &calls)],
    );
    assert_eq!(readiness.check().await, Verdict::Ready);
    failing.store(true, Ordering::SeqCst);
    let verdict = readiness.check().await;
    assert_eq!(
        verdict,
        Verdict::NotReady("event store cannot write".into())
    );
    // The reason names the part, never the driver's words.
    let Verdict::NotReady(reason) = verdict else {
        unreachable!()
    };
    assert!(!reason.contains("secret") && !reason.contains("I/O"));
    failing.store(false, Ordering::SeqCst);
    assert_eq!(readiness.check().await, Verdict::Ready, "no restart needed");
}

#[tokio::test]
async fn every_failing_part_is_named() {
    let failing = Arc::new(AtomicBool::new(true));
    let calls = Arc::new(AtomicUsize::new(0));
    let readiness = uncached(
        &args(0, 1_000),
        vec![
            switchable("event store cannot write", &failing, &calls),
            switchable("read models unreachable", &failing, &calls),
        ],
    );
    assert_eq!(
        readiness.check().await,
        Verdict::NotReady("event store cannot write; read models unreachable".into())
    );
}

#[tokio::test]
async fn a_hung_part_is_not_ready_within_the_timeout() {
    let readiness = uncached(
        &args(0, 150),
        vec![
            hung("read models unreachable"),
            hung("event store cannot write"),
        ],
    );
    let started = Instant::now();
    let verdict = readiness.check().await;
    let took = started.elapsed();
    assert_eq!(
        verdict,
        Verdict::NotReady(
            "read models unreachable: no answer within 150 ms; \
             event store cannot write: no answer within 150 ms"
                .into()
        )
    );
    // Checks run side by side: two hung parts cost one timeout.
    assert!(took >= Duration::from_millis(150), "{took:?}");
    assert!(took < Duration::from_millis(1_000), "{took:?}");
}

#[tokio::test]
async fn a_verdict_is_reused_for_a_second() {
    let failing = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let readiness = Readiness::new(
        &args(0, 1_000),
        [switchable("event store cannot write", &failing, &calls)],
    );
    let verdicts = join_all((0..50).map(|_| readiness.check())).await;
    assert!(verdicts.iter().all(Verdict::is_ready));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one write for 50 probes");
}

#[tokio::test]
async fn read_models_too_far_behind_are_not_ready() {
    let head = Arc::new(AtomicU64::new(100));
    let (position, projected) = watch::channel(0_u64);
    let lag = || {
        let head = Arc::clone(&head);
        Check {
            failure: "projection lag unknown",
            kind: Kind::Lag {
                head: Arc::new(move || {
                    let head = head.load(Ordering::SeqCst);
                    async move { Ok(Some(head)) }.boxed()
                }),
                projected: projected.clone(),
            },
        }
    };
    let readiness = uncached(&args(50, 1_000), vec![lag()]);
    assert_eq!(
        readiness.check().await,
        Verdict::Ready,
        "no lag before the projection has reported where it is"
    );
    position.send_replace(0);
    assert_eq!(
        readiness.check().await,
        Verdict::NotReady("read models 100 events behind (bound 50)".into())
    );
    position.send_replace(60);
    assert_eq!(readiness.check().await, Verdict::Ready, "40 behind is fine");
    head.store(200, Ordering::SeqCst);
    assert!(!readiness.check().await.is_ready());
    // A bound of 0 turns the check off.
    let unbounded = uncached(&args(0, 1_000), vec![lag()]);
    assert_eq!(unbounded.check().await, Verdict::Ready);
}

#[tokio::test]
async fn a_store_without_a_head_passes_the_lag_check() {
    let (position, projected) = watch::channel(0_u64);
    position.send_replace(0);
    let check = Check {
        failure: "projection lag unknown",
        kind: Kind::Lag {
            head: Arc::new(|| async { Ok(None) }.boxed()),
            projected,
        },
    };
    assert_eq!(
        uncached(&args(1, 1_000), vec![check]).check().await,
        Verdict::Ready
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_embedded_store_is_not_ready_then_ready_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let store = Arc::new(trellis_store_sqlite::SqliteEventStore::open(&path).unwrap());
    let readiness = uncached(&args(0, 200), vec![Check::store_writes(store)]);
    assert_eq!(readiness.check().await, Verdict::Ready);

    // Another process holds the write lock: no commit can land.
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let verdict = readiness.check().await;
    assert_eq!(
        verdict,
        Verdict::NotReady("event store cannot write: no answer within 200 ms".into())
    );
    assert!(!readiness.check().await.is_ready());

    blocker.execute_batch("ROLLBACK").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !readiness.check().await.is_ready() {
        assert!(Instant::now() < deadline, "ready again once writable");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn grpc_health_follows_the_verdict() {
    use tonic_health::pb::health_server::Health;
    use tonic_health::pb::{HealthCheckRequest, health_check_response};

    let failing = Arc::new(AtomicBool::new(true));
    let calls = Arc::new(AtomicUsize::new(0));
    let readiness = uncached(
        &args(0, 1_000),
        vec![switchable("event store cannot write", &failing, &calls)],
    );
    let reporter = HealthReporter::new();
    let server = tonic_health::server::HealthService::from_health_reporter(reporter.clone());
    let status = |name: &'static str| {
        let server = &server;
        async move {
            server
                .check(tonic::Request::new(HealthCheckRequest {
                    service: name.into(),
                }))
                .await
                .unwrap()
                .into_inner()
                .status
        }
    };
    report_to_grpc(readiness, reporter, "trellis.test.Service").await;
    let not_serving = health_check_response::ServingStatus::NotServing as i32;
    assert_eq!(status("").await, not_serving);
    assert_eq!(status("trellis.test.Service").await, not_serving);
    failing.store(false, Ordering::SeqCst);
    let serving = health_check_response::ServingStatus::Serving as i32;
    let deadline = Instant::now() + GRPC_INTERVAL * 3;
    while status("trellis.test.Service").await != serving {
        assert!(Instant::now() < deadline, "SERVING again without a restart");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status("").await, serving);
}
