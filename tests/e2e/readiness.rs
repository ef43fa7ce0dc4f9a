//! Readiness tells the truth: `/readyz` answers 503 and gRPC health
//! NOT_SERVING while the store cannot write, the read models fall too far
//! behind or Redis hangs, and both are ready again once the cause is gone,
//! without a restart.
//!
//! The full disk is real as far as the server can tell, for root too: the
//! server runs with SIGXFSZ ignored, and `prlimit` lowers its file-size
//! limit to 0, so every write to a file fails with EFBIG as it would with
//! ENOSPC. Raising the limit is the disk being freed.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use trellis_proto::plans::v1::plan_service_client::PlanServiceClient;

use crate::harness::*;

const PLANS: &str = "trellis.plans.v1.PlanService";

async fn readyz(http: &str) -> (u16, String) {
    let response = reqwest::get(format!("{http}/readyz"))
        .await
        .expect("/readyz answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

async fn grpc_health(grpc: &str, service: &str) -> ServingStatus {
    let channel = tonic::transport::Channel::from_shared(grpc.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("gRPC health answers")
        .into_inner()
        .status;
    ServingStatus::try_from(status).expect("a known status")
}

/// Polls `/readyz` until it answers `status`; returns the body.
async fn readyz_becomes(http: &str, status: u16, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let (now, body) = readyz(http).await;
        if now == status {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still {now} ({body}), not {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls gRPC health of the plans service and of the server ("") until
/// both say `status`.
async fn grpc_health_becomes(grpc: &str, status: ServingStatus, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let plans = grpc_health(grpc, PLANS).await;
        let server = grpc_health(grpc, "").await;
        if plans == status && server == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "gRPC health still {plans:?}/{server:?}, not {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn set_file_size_limit(pid: u32, limit: &str) {
    let status = std::process::Command::new("prlimit")
        .arg("--pid")
        .arg(pid.to_string())
        .arg(format!("--fsize={limit}:"))
        .status()
        .expect("prlimit (util-linux) on PATH");
    assert!(status.success(), "prlimit --fsize={limit}: failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_not_ready_until_it_has_room_again() {
    let dir = tempfile::tempdir().unwrap();
    // `trap '' XFSZ` survives the exec: a write past the limit fails with
    // EFBIG instead of killing the server.
    let mut command = Command::new("sh");
    command
        .args(["-c", r#"trap '' XFSZ; exec "$0" "$@""#])
        .arg(env!("CARGO_BIN_EXE_trellis"))
        .args([
            "serve",
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .env("RUST_LOG", "trellis=info,error")
        .env("TRELLIS_DEV", "1")
        .env_remove("TRELLIS_JWT_SECRET")
        .env_remove("TRELLIS_OTEL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("start trellis");
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let collected = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            collected.lock().unwrap().push(line);
        }
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match stdout.next_line().await.unwrap() {
                Some(line) if line.starts_with("trellis ready") => return line,
                Some(_) => {}
                None => panic!("trellis exited before it was ready"),
            }
        }
    })
    .await
    .expect("ready within 30 s");
    let (grpc, http) = (
        format!("http://{}", ready_field(&ready, "grpc")),
        format!("http://{}", ready_field(&ready, "http")),
    );
    let pid = child.id().expect("running");

    assert_eq!(readyz(&http).await, (200, "ready".to_owned()));
    grpc_health_becomes(&grpc, ServingStatus::Serving, Duration::from_secs(1)).await;
    let tenant = fresh_tenant();
    let token = clinician_token(&tenant);
    let channel = tonic::transport::Channel::from_shared(grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut plans = PlanServiceClient::with_interceptor(channel, Bearer::new(&token));
    let plan_id = create_plan(&mut plans).await.plan_id;

    // The disk is full: writes fail, and readiness says so.
    set_file_size_limit(pid, "0");
    let refused = plans
        .add_goal(add_goal_request(&plan_id, "Sleep seven hours"))
        .await
        .expect_err("no write lands on a full disk");
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    let body = readyz_becomes(&http, 503, Duration::from_secs(3)).await;
    assert_eq!(body, "not ready: event store cannot write");
    grpc_health_becomes(&grpc, ServingStatus::NotServing, Duration::from_secs(4)).await;

    // Room again: ready again, same process.
    set_file_size_limit(pid, "unlimited");
    assert_eq!(
        readyz_becomes(&http, 200, Duration::from_secs(4)).await,
        "ready"
    );
    grpc_health_becomes(&grpc, ServingStatus::Serving, Duration::from_secs(4)).await;
    let added = plans
        .add_goal(add_goal_request(&plan_id, "Sleep seven hours"))
        .await
        .expect("writes land again")
        .into_inner();
    assert_eq!(added.revision, 1);
    assert_eq!(child.id(), Some(pid), "no restart");

    // Each change of verdict is logged once, not once per probe.
    let log = log.lock().unwrap().clone();
    let count = |needle: &str| log.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(count("not ready"), 1, "{log:#?}");
    assert_eq!(count("ready again"), 1, "{log:#?}");
}

/// The read models cannot be written (another process holds their write
/// lock) while commands append: the projection falls behind the bound,
/// and readiness says so until it has caught up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_models_too_far_behind_are_not_ready_until_they_catch_up() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        dir.path(),
        &[("TRELLIS_READY_MAX_LAG_EVENTS", "3")],
        Stdio::null(),
    )
    .await;
    assert_eq!(readyz(&server.http).await, (200, "ready".to_owned()));

    let blocker = rusqlite::Connection::open(dir.path().join("read-models.db")).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let tenant = fresh_tenant();
    let token = clinician_token(&tenant);
    let mut plans = server.plans(&token).await;
    let plan_id = create_plan(&mut plans).await.plan_id;
    for n in 0..4 {
        plans
            .add_goal(add_goal_request(&plan_id, &format!("Goal {n}")))
            .await
            .expect("commands do not wait for the read models");
    }
    let body = readyz_becomes(&server.http, 503, Duration::from_secs(3)).await;
    assert!(body.contains("events behind (bound 3)"), "{body}");
    grpc_health_becomes(
        &server.grpc,
        ServingStatus::NotServing,
        Duration::from_secs(4),
    )
    .await;

    blocker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(
        readyz_becomes(&server.http, 200, Duration::from_secs(5)).await,
        "ready"
    );
    grpc_health_becomes(&server.grpc, ServingStatus::Serving, Duration::from_secs(4)).await;
    let plan = server.plan_at_version(&token, &plan_id, 4).await;
    assert_eq!(plan["goals"].as_array().unwrap().len(), 4);
}

/// A hung Redis (stopped, its connections open and silent) gives the
/// projector 503 within the readiness timeout, never a hung probe; it is
/// ready again once Redis answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_is_not_ready_within_the_timeout() {
    let database = format!("trellis_ready_{}", uuid::Uuid::new_v4().simple());
    let admin = "postgres://postgres@127.0.0.1:5432/postgres";
    let store_url = trellis_store_postgres::ensure_database(admin, &database)
        .await
        .expect("PostgreSQL reachable (./scripts/services-up starts it)");
    let redis = PrivateRedis::start().await;
    let redis_url = redis.url();
    let projector = Service::start(
        "projector",
        &[
            ("TRELLIS_STORE_URL", store_url.as_str()),
            ("TRELLIS_REDIS_URL", redis_url.as_str()),
            ("TRELLIS_READY_TIMEOUT_MS", "500"),
        ],
    )
    .await;
    let http = projector.url("http");
    assert_eq!(
        readyz_becomes(&http, 200, Duration::from_secs(5)).await,
        "ready"
    );

    let signal = |name: &str| {
        let pid = redis.child.id().expect("redis running").to_string();
        let status = std::process::Command::new("kill")
            .args([name, &pid])
            .status()
            .unwrap();
        assert!(status.success(), "kill {name}");
    };
    signal("-STOP");
    let deadline = Instant::now() + Duration::from_secs(5);
    let body = loop {
        let asked = Instant::now();
        let (status, body) = readyz(&http).await;
        assert!(
            asked.elapsed() < Duration::from_millis(1_500),
            "/readyz took {:?} with Redis hung",
            asked.elapsed()
        );
        if status == 503 {
            break body;
        }
        assert!(Instant::now() < deadline, "still ready with Redis hung");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Redis's own client may give up first (after 500 ms); either way
    // the answer names the part, within the bound.
    assert!(body.contains("read models unreachable"), "{body}");

    signal("-CONT");
    assert_eq!(
        readyz_becomes(&http, 200, Duration::from_secs(5)).await,
        "ready"
    );
    drop((projector, redis));
    trellis_store_postgres::drop_database(admin, &database)
        .await
        .unwrap();
}
