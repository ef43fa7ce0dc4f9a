//! A PostgreSQL cluster of a test's own, so it can be stopped and
//! restarted (`pg_ctl restart -m fast`) without disturbing the shared
//! server the rest of the suite uses. `initdb` refuses to run as root, so
//! as root the cluster belongs to the `postgres` user.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::process::Command;

pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

/// The newest installed server's programs (Debian keeps them per version).
fn server_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server programs (./scripts/services-up installs them)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort_by_key(|p| {
        p.parent()
            .and_then(Path::file_name)
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions
        .pop()
        .expect("initdb under /usr/lib/postgresql/*/bin")
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

impl PrivatePostgres {
    pub async fn start() -> Self {
        let port = crate::harness::free_port();
        let dir = tempfile::tempdir().unwrap();
        if running_as_root() {
            let owned = std::process::Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(owned.success(), "chown of the cluster's directory");
        }
        let cluster = Self {
            dir,
            bin: server_bin(),
            port,
        };
        let data = cluster.data();
        cluster
            .run(
                "initdb",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
            )
            .await;
        cluster.start_again().await;
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// One of the server's programs, as `postgres` when we are root.
    fn program(&self, program: &str, args: &[&str]) -> std::process::Command {
        let path = self.bin.join(program);
        let mut command = if running_as_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            std::process::Command::new(path)
        };
        command
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command
    }

    async fn run(&self, program: &str, args: &[&str]) {
        let status = Command::from(self.program(program, args))
            .kill_on_drop(true)
            .status()
            .await
            .unwrap();
        assert!(status.success(), "{program} {args:?} failed");
    }

    async fn pg_ctl(&self, args: &[&str]) {
        let data = self.data();
        let log = self.dir.path().join("server.log");
        let mut all = vec![
            "-D",
            data.to_str().unwrap(),
            "-l",
            log.to_str().unwrap(),
            "-w",
            "-t",
            "30",
        ];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all).await;
    }

    /// Starts the (stopped) server with its data.
    pub async fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        self.pg_ctl(&["-o", &options, "start"]).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "PostgreSQL did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `pg_ctl restart -m fast`: connections are closed, transactions in
    /// flight roll back, the server comes back with everything committed.
    pub async fn restart_fast(&self) {
        self.pg_ctl(&["-m", "fast", "restart"]).await;
    }

    /// Stops the server at once (`-m immediate`, as a crash would).
    pub async fn stop_now(&self) {
        self.pg_ctl(&["-m", "immediate", "stop"]).await;
    }

    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data();
        let stop = ["-D", data.to_str().unwrap(), "-m", "immediate", "stop"];
        let _ = self.program("pg_ctl", &stop).status();
    }
}
