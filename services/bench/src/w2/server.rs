//! The `trellis serve` child process: started on a filled data directory,
//! asked over GraphQL whether the read models have caught up, and watched
//! for the CPU time it spends (from `/proc`, per thread name).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use trellis_plans_domain::PlanId;

use super::machine::Cpu;

/// What every benchmark against a `trellis serve` child is given.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ChildRun {
    /// The `trellis` binary [default: `trellis` beside this executable].
    #[arg(long)]
    pub trellis: Option<PathBuf>,
    /// Seconds measured per configuration (and again for the baseline).
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// Seconds of unmeasured load before each measured window.
    #[arg(long, default_value_t = 2)]
    pub warmup_secs: u64,
    /// Runs per configuration; the tables show the medians.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Where the fresh data directories go [default: the temp directory].
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

impl ChildRun {
    /// The `trellis` binary to start, checked to exist.
    pub fn binary(&self) -> anyhow::Result<PathBuf> {
        let trellis = match &self.trellis {
            Some(path) => path.clone(),
            None => std::env::current_exe()?
                .parent()
                .context("executable directory")?
                .join("trellis"),
        };
        if !trellis.is_file() {
            bail!(
                "no trellis binary at {} (build it: cargo build --release -p trellis, or pass --trellis)",
                trellis.display()
            );
        }
        Ok(trellis)
    }

    /// A fresh data directory under `--dir` (removed when dropped).
    pub fn data_dir(&self, prefix: &str) -> anyhow::Result<tempfile::TempDir> {
        let base = self.dir.clone().unwrap_or_else(std::env::temp_dir);
        std::fs::create_dir_all(&base)?;
        Ok(tempfile::Builder::new().prefix(prefix).tempdir_in(&base)?)
    }

    /// The warm-up and measured window of a phase starting now.
    pub fn window(&self) -> super::load::Window {
        super::load::Window::after(
            Duration::from_secs(self.warmup_secs),
            Duration::from_secs(self.duration_secs.max(1)),
        )
    }
}

/// How long the server may take to print its ready line.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `trellis serve --dev` on ephemeral ports.
#[derive(Debug)]
pub(crate) struct Server {
    child: Child,
    pid: u32,
    /// `http://<grpc addr>`.
    pub grpc: String,
    log: PathBuf,
    pub graphql: Graphql,
}

/// Asks the server's GraphQL endpoint for a plan's version; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Graphql {
    client: reqwest::Client,
    url: String,
}

impl Graphql {
    /// The endpoint, `http://<addr>/graphql`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The plan's version in the read model (`None`: not there yet).
    pub async fn version(&self, token: &str, plan: PlanId) -> anyhow::Result<Option<u64>> {
        let body = json!({
            "query": "query($id: ID!) { plan(id: $id) { version } }",
            "variables": { "id": plan.to_string() },
        });
        let response: serde_json::Value = self
            .client
            .post(&self.url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if let Some(errors) = response.get("errors") {
            bail!("GraphQL errors: {errors}");
        }
        Ok(response["data"]["plan"]["version"].as_u64())
    }
}

impl Server {
    /// Starts `trellis` on `data_dir`; its log goes to `data_dir/server.log`.
    pub async fn start(trellis: &Path, data_dir: &Path) -> anyhow::Result<Self> {
        let log = data_dir.join("server.log");
        let mut command = Command::new(trellis);
        command
            .args(["serve", "--dev", "--grpc-addr", "127.0.0.1:0"])
            .args(["--http-addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .env_remove("TRELLIS_JWT_SECRET")
            .env_remove("TRELLIS_JWKS_FILE")
            .env_remove("TRELLIS_OTEL")
            // The benchmark measures the server, not its rate limiter: the
            // lag probe asks GraphQL far more often than a caller may.
            .env("TRELLIS_RATE_LIMIT_PER_MINUTE", "0")
            .env("TRELLIS_RATE_LIMIT_PER_SUBJECT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("start {}", trellis.display()))?;
        let pid = child.id().context("server pid")?;
        let mut lines = BufReader::new(child.stdout.take().context("server stdout")?).lines();
        let ready = tokio::time::timeout(START_TIMEOUT, async {
            while let Some(line) = lines.next_line().await? {
                if line.starts_with("trellis ready") {
                    return Ok(Some(line));
                }
            }
            anyhow::Ok(None)
        })
        .await;
        let ready = match ready {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => bail!("trellis exited before it was ready: {}", tail(&log)),
            Ok(Err(e)) => return Err(e),
            Err(_) => bail!("trellis not ready within {START_TIMEOUT:?}: {}", tail(&log)),
        };
        // Nothing more is expected on stdout; keep the pipe drained anyway.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let field = |name: &str| -> anyhow::Result<String> {
            ready
                .split_whitespace()
                .find_map(|part| part.strip_prefix(&format!("{name}=")))
                .map(|addr| format!("http://{addr}"))
                .with_context(|| format!("no {name} address in {ready:?}"))
        };
        Ok(Self {
            child,
            pid,
            grpc: field("grpc")?,
            log,
            graphql: Graphql {
                client: reqwest::Client::new(),
                url: format!("{}/graphql", field("http")?),
            },
        })
    }

    /// The plan's version in the read model (`None`: not there yet).
    pub async fn projected_version(
        &self,
        token: &str,
        plan: PlanId,
    ) -> anyhow::Result<Option<u64>> {
        self.graphql.version(token, plan).await
    }

    /// Waits until the read model shows `plan` at `version` or later, at
    /// most until `deadline`; `None` if it did not get there in time.
    pub async fn wait_projected(
        &self,
        token: &str,
        plan: PlanId,
        version: u64,
        deadline: Instant,
    ) -> anyhow::Result<Option<()>> {
        loop {
            self.check_alive()?;
            if self
                .projected_version(token, plan)
                .await?
                .is_some_and(|v| v >= version)
            {
                return Ok(Some(()));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn check_alive(&self) -> anyhow::Result<()> {
        if std::fs::metadata(format!("/proc/{}", self.pid)).is_err() {
            bail!("trellis exited: {}", tail(&self.log));
        }
        Ok(())
    }

    /// CPU time the server has used so far.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn cpu(&self) -> Cpu {
        Cpu::of(&format!("/proc/{}", self.pid))
    }

    /// Kills the server (SIGKILL: a benchmark store is thrown away) and
    /// returns its warnings and errors, if it logged any.
    pub async fn stop(mut self) -> anyhow::Result<Vec<String>> {
        self.child.kill().await.context("stop trellis")?;
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        Ok(log
            .lines()
            // The one warning every --dev start gives.
            .filter(|l| !l.contains("development mode"))
            .map(str::to_owned)
            .collect())
    }
}

/// The last lines of the server's log, for an error message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
