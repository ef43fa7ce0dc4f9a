//! A PostgreSQL cluster of a test's own, so it can be stopped and
//! restarted without disturbing the shared server the rest of the suite
//! uses. The server runs as a child of the test (killed with it, so no
//! cluster outlives a killed run); `initdb` and `postgres` refuse to run as
//! root, so as root they run as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// The user and group the cluster's programs run as, when we are root.
    owner: Option<(u32, u32)>,
    server: Option<Child>,
}

/// The newest installed server's programs (Debian keeps them per version;
/// elsewhere `pg_config --bindir` says).
fn server_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .filter(|bin| bin.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    versions.sort_by_key(|p| {
        p.parent()
            .and_then(Path::file_name)
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions.pop().unwrap_or_else(|| {
        let out = std::process::Command::new("pg_config")
            .arg("--bindir")
            .output()
            .expect("PostgreSQL server programs (./scripts/services-up installs them)");
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}

/// The `postgres` user's ids when we are root, from /etc/passwd.
fn owner() -> Option<(u32, u32)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let root = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0");
    if !root {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    let entry = passwd
        .lines()
        .find(|l| l.starts_with("postgres:"))
        .expect("a postgres user to run the cluster as (root may not)");
    let fields: Vec<&str> = entry.split(':').collect();
    Some((fields[2].parse().unwrap(), fields[3].parse().unwrap()))
}

impl PrivatePostgres {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let owner = owner();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let mut cluster = Self {
            dir,
            bin: server_bin(),
            port: crate::harness::free_port(),
            owner,
            server: None,
        };
        let data = cluster.data();
        let initdb = cluster
            .program("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8"])
            .args(["--locale=C", "--no-sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .await
            .unwrap();
        assert!(
            initdb.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        cluster.start_again().await;
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// One of the server's programs, as `postgres` when we are root.
    fn program(&self, name: &str) -> Command {
        let mut command = Command::new(self.bin.join(name));
        if let Some((uid, gid)) = self.owner {
            command.uid(uid).gid(gid);
        }
        command.kill_on_drop(true);
        command
    }

    /// Starts the (stopped) server on its data and waits until it accepts
    /// connections (`pg_isready`: a port that is open may still answer
    /// "starting up" while it recovers).
    pub async fn start_again(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("server.log")).unwrap();
        let server = self
            .program("postgres")
            .arg("-D")
            .arg(self.data())
            .args([
                "-p",
                &self.port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
            ])
            .arg("-k")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("postgres");
        self.server = Some(server);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !Command::new(self.bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
            .status()
            .await
            .is_ok_and(|s| s.success())
        {
            let log = std::fs::read_to_string(self.dir.path().join("server.log"));
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start: {log:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server with `signal` and waits for it to be gone.
    async fn stop(&mut self, signal: &str) {
        let Some(mut server) = self.server.take() else {
            return;
        };
        let pid = server.id().expect("running").to_string();
        let sent = Command::new("kill")
            .args([signal, &pid])
            .status()
            .await
            .unwrap();
        assert!(sent.success(), "kill {signal}");
        tokio::time::timeout(Duration::from_secs(30), server.wait())
            .await
            .expect("PostgreSQL stopped")
            .unwrap();
    }

    /// What `pg_ctl restart -m fast` does: a fast shutdown (SIGINT —
    /// connections closed, transactions in flight rolled back), then the
    /// server again with everything committed.
    pub async fn restart_fast(&mut self) {
        self.stop("-INT").await;
        self.start_again().await;
    }

    /// Stops the server at once (`-m immediate`, SIGQUIT, as a crash).
    pub async fn stop_now(&mut self) {
        self.stop("-QUIT").await;
    }

    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}
