//! The record at rest: the data directory is its user's alone, the server
//! writes no core dump, and `trellis backup` taken while commands are
//! written restores into a copy that verifies and serves the same plans.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::json;
use trellis_auth::Role;

use crate::harness::{Server, add_goal_request, run_demo, token_in, trellis_cli};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn the_data_directory_is_its_users_alone_and_no_core_is_dumped() {
    let server = Server::start().await;
    run_demo(&server, "demo");
    assert_eq!(mode(&server.data_dir), 0o700);
    let files: Vec<_> = std::fs::read_dir(&server.data_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        files.iter().any(|f| f.to_string_lossy().ends_with("-wal")),
        "{files:?}"
    );
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    let limits =
        std::fs::read_to_string(format!("/proc/{}/limits", server.pid().unwrap())).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert!(
        core.split_whitespace().nth(4) == Some("0"),
        "core dumps are on: {core}"
    );
}

fn cli(args: &[&str]) -> std::process::Output {
    trellis_cli(args).output().unwrap()
}

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn a_backup_taken_while_commands_are_written_restores_and_verifies() {
    let server = Server::start().await;
    let demo = run_demo(&server, "demo");
    let doug = demo.plan("doug-mcgee");
    let clinician = token_in("demo", "dr-rivera", &[Role::Clinician], &["main-street"]);

    // Commands keep arriving, before, while and after the backup runs.
    let written = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut plans = server.plans(&clinician).await;
    let writer = tokio::spawn({
        let (plan, written, stop) = (doug.clone(), Arc::clone(&written), Arc::clone(&stop));
        async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let goal = add_goal_request(&plan, &format!("Goal {n}"));
                plans.add_goal(goal).await.expect("AddGoal");
                written.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    while written.load(Ordering::Relaxed) < 5 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let scratch = tempfile::tempdir().unwrap();
    let backup_dir = scratch.path().join("backup");
    let keys_dir = scratch.path().join("vault");
    let data = server.data_dir.to_str().unwrap().to_owned();
    let taken = tokio::task::spawn_blocking({
        let backup_dir = backup_dir.clone();
        let keys_dir = keys_dir.clone();
        move || {
            cli(&[
                "backup",
                "--data-dir",
                &data,
                "--to",
                backup_dir.to_str().unwrap(),
                "--keys-to",
                keys_dir.to_str().unwrap(),
            ])
        }
    })
    .await
    .unwrap();
    assert!(taken.status.success(), "{}", text(&taken));
    let during = written.load(Ordering::Relaxed);
    // Still writing after the backup: the backup never stopped the server.
    while written.load(Ordering::Relaxed) < during + 5 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    assert!(keys_dir.join("audit-signing.key").exists());
    assert!(keys_dir.join("keyring.json").exists());
    assert_eq!(mode(&keys_dir.join("keyring.json")), 0o600);
    assert!(!backup_dir.join("keys").exists(), "keys went to --keys-to");

    // Restored into a fresh directory: the chain verifies offline.
    let restored = scratch.path().join("restored");
    let back = cli(&[
        "restore",
        "--from",
        backup_dir.to_str().unwrap(),
        "--data-dir",
        restored.to_str().unwrap(),
        "--keys-from",
        keys_dir.to_str().unwrap(),
    ]);
    assert!(back.status.success(), "{}", text(&back));
    assert_eq!(mode(&restored), 0o700);
    let verified = cli(&["audit", "verify", "--data-dir", restored.to_str().unwrap()]);
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(text(&verified).contains("OK:"), "{}", text(&verified));

    // A server on the copy serves the demo's plans.
    server.stop().await;
    let copy = Server::start_in(&restored).await;
    let plan = copy
        .graphql(
            &clinician,
            "query($id: ID!) { plan(id: $id) { title diagnoses { code } } }",
            json!({ "id": doug }),
        )
        .await;
    assert_eq!(plan["plan"]["diagnoses"][0]["code"], "F32.1", "{plan}");
    copy.stop().await;

    // Not without the keyring: the copy's plans could not be read.
    let no_keys = scratch.path().join("no-keys");
    std::fs::create_dir(&no_keys).unwrap();
    let keyless = cli(&[
        "restore",
        "--from",
        backup_dir.to_str().unwrap(),
        "--data-dir",
        scratch.path().join("keyless").to_str().unwrap(),
        "--keys-from",
        no_keys.to_str().unwrap(),
    ]);
    assert!(!keyless.status.success());
    assert!(
        text(&keyless).contains("no keyring in"),
        "{}",
        text(&keyless)
    );

    // Not over a directory that holds data, and not from altered files.
    let again = cli(&[
        "restore",
        "--from",
        backup_dir.to_str().unwrap(),
        "--data-dir",
        restored.to_str().unwrap(),
        "--keys-from",
        keys_dir.to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    assert!(text(&again).contains("is not empty"), "{}", text(&again));
    let events = backup_dir.join("events.db");
    let mut bytes = std::fs::read(&events).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&events, bytes).unwrap();
    let forged = cli(&[
        "restore",
        "--from",
        backup_dir.to_str().unwrap(),
        "--data-dir",
        scratch.path().join("other").to_str().unwrap(),
    ]);
    assert!(!forged.status.success());
    assert!(
        text(&forged).contains("does not match its manifest"),
        "{}",
        text(&forged)
    );
}
