//! The console in a real headless Chromium: `tests/browser/console.test.mjs`
//! (playwright-core driving Debian's `chromium`) against the real binary
//! with the demo loaded. `./scripts/test` installs both when absent and
//! requires the suite (`TRELLIS_REQUIRE_BROWSER=1`); a bare `cargo test` on
//! a machine without them says so and skips.

use std::path::{Path, PathBuf};

use trellis_auth::Role;

use crate::harness::{Server, add_goal_request, run_demo, token, token_in};

fn browser_suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Whether the browser and its driver are installed; `false` skips the
/// suite unless it is required.
fn browser_available() -> bool {
    let found = chromium().exists()
        && browser_suite()
            .join("node_modules/playwright-core/package.json")
            .exists()
        && browser_suite()
            .join("node_modules/axe-core/axe.min.js")
            .exists();
    if !found {
        assert!(
            std::env::var("TRELLIS_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "the browser tests need chromium and tests/browser/node_modules: run ./scripts/browser-deps"
        );
        eprintln!(
            "console browser tests skipped: run ./scripts/browser-deps (./scripts/test does)"
        );
    }
    found
}

#[tokio::test]
async fn the_console_works_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let server = Server::start().await;
    // The console's development sign-in offers the demo tenant's people;
    // the server is this test's own, so the tenant is too.
    let emma = run_demo(&server, "demo").plan("emma-lee");
    // A material change: Emma's plan now needs both signatures again, for
    // the suite's signing steps.
    let demo_clinician = token_in("demo", "dr-rivera", &[Role::Clinician], &["main-street"]);
    let mut plans = server.plans(&demo_clinician).await;
    plans
        .add_goal(add_goal_request(&emma, "Return to weekly choir practice"))
        .await
        .unwrap();
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    let output = tokio::process::Command::new("node")
        .arg("--test")
        .arg("--test-reporter=spec")
        .arg(browser_suite().join("console.test.mjs"))
        .env("BASE_URL", &server.http)
        .env("CHROMIUM", chromium())
        .env("SCREENSHOTS", &screenshots)
        // Someone of another clinic network, with a valid token.
        .env(
            "OTHER_TENANT_TOKEN",
            token("elsewhere", "dr-rivera", &[Role::Clinician]),
        )
        .output()
        .await
        .expect("node runs");
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "the browser suite failed:\n{report}"
    );
    assert!(screenshots.join("console-plan.png").exists());
}
