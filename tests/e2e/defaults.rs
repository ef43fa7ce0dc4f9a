//! No insecure default: a server without a way to verify tokens does not
//! start unless told it is for development, and every install signs its
//! audit digests with a key of its own.

use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

use crate::harness::*;

fn serve_without_configuration(data_dir: &std::path::Path) -> Command {
    let mut command = serve_command(data_dir);
    command
        .env_remove("TRELLIS_DEV")
        .env_remove("TRELLIS_JWKS_FILE");
    command
}

#[test]
fn serve_refuses_to_start_without_a_token_secret_outside_development_mode() {
    let dir = tempfile::tempdir().unwrap();
    let output = serve_without_configuration(dir.path()).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("TRELLIS_JWT_SECRET") && stderr.contains("--dev"),
        "{stderr}"
    );
    // Nothing was opened or written for a server that did not start.
    assert!(!dir.path().join("events.db").exists());
}

#[tokio::test]
async fn each_install_signs_with_its_own_key_kept_private_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let first = Server::start_in(dir.path()).await;
    drop(first);
    let key_file = dir.path().join("audit-signing.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
    let seed = std::fs::read_to_string(&key_file).unwrap();
    let second = Server::start_in(dir.path()).await;
    drop(second);
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap(),
        seed,
        "the key is kept"
    );
    let other = tempfile::tempdir().unwrap();
    drop(Server::start_in(other.path()).await);
    let other_seed = std::fs::read_to_string(other.path().join("audit-signing.key")).unwrap();
    assert_ne!(seed, other_seed, "no two installs share a key");
}
