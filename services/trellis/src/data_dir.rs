//! What the host's other users and crash handlers can see of the record:
//! nothing. Files the process makes are its user's alone (umask 077: data
//! directories 0700, database, WAL and key files 0600), a data directory
//! made looser by hand is tightened at start, and the process writes no
//! core dump (a dump of a process serving plans holds PHI).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Context;

/// Before anything is opened: the file-creation mask and no core dumps.
pub(crate) fn harden_process() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let none = rustix::process::Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    if let Err(e) = rustix::process::setrlimit(rustix::process::Resource::Core, none) {
        tracing::warn!(error = %e, "cannot turn core dumps off");
    }
    #[cfg(target_os = "linux")]
    if let Err(e) =
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
    {
        tracing::warn!(error = %e, "cannot mark the process not dumpable");
    }
}

/// Creates the data directory (0700) or tightens an existing one and the
/// files directly in it (0600); symbolic links are left as they are.
pub(crate) fn prepare(dir: &Path) -> anyhow::Result<()> {
    let core = rustix::process::getrlimit(rustix::process::Resource::Core);
    if core.current != Some(0) {
        tracing::warn!("core dumps could not be turned off for this process");
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    tighten(dir, 0o700)?;
    for entry in std::fs::read_dir(dir)
        .with_context(|| format!("cannot list data directory {}", dir.display()))?
    {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            tighten(&entry.path(), 0o600)?;
        }
    }
    Ok(())
}

fn tighten(path: &Path, mode: u32) -> anyhow::Result<()> {
    let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if current & !mode != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot restrict {} to mode {mode:o}", path.display()))?;
        tracing::warn!(path = %path.display(), was = %format!("{current:o}"), now = %format!("{mode:o}"), "tightened a data file's permissions");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loose_data_directory_is_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        let db = data.join("events.db");
        std::fs::write(&db, b"x").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        prepare(&data).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&db), 0o600);
    }
}
