//! WAL checkpoints off the writer thread.
//!
//! SQLite checkpoints inside the commit that takes the WAL past its
//! threshold, so every caller of that group waited while the WAL's pages
//! were copied into the database file and the file was fsynced: under W2,
//! about 12 % of the writer thread's time, 3–8 ms added to about one
//! group in 25. The writer instead nudges a thread of its own, which
//! checkpoints on a connection of its own. The checkpoint is PASSIVE: it
//! never waits for the writer or for readers, copies what no reader still
//! needs, and leaves the rest to the next one.
//!
//! SQLite reuses the WAL from its start only when a write begins with
//! every frame copied, which a checkpoint running beside a busy writer
//! rarely leaves. So under steady writes the WAL grows to the writer's own
//! automatic checkpoint (`schema::WRITER_AUTOCHECKPOINT_PAGES`, 64 MiB),
//! which then runs inside a commit, as every checkpoint did before, but
//! finds little left to copy, and the WAL starts over. The file keeps that
//! size on disk; a restart after a crash reads at most that much.

use std::path::Path;
use std::sync::mpsc;

use rusqlite::Connection;
use trellis_kernel::StoreError;

use crate::schema::unavailable;

/// Rows (events, access records) committed between two nudges: each
/// writes a page or two of table and index leaves, so about as often as
/// SQLite's own threshold of 1,000 pages checkpointed under W2.
const ROWS_PER_CHECKPOINT: usize = 400;

/// The writer's side: counts what it commits and nudges the checkpoint
/// thread every [`ROWS_PER_CHECKPOINT`] rows. When it is dropped (the
/// writer stopped), the thread ends.
pub(crate) struct Checkpoints {
    nudge: mpsc::SyncSender<()>,
    rows: usize,
}

impl Checkpoints {
    /// Starts the checkpoint thread on a connection of its own to `path`.
    pub(crate) fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(unavailable)?;
        // A checkpoint fsyncs the database file before the WAL may be
        // reused (FULL, as the writer).
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(unavailable)?;
        crate::schema::configure_session(&conn)?;
        // One nudge waiting is enough: a checkpoint copies all there is.
        let (nudge, nudged) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("trellis-store-checkpoint".into())
            .spawn(move || {
                while nudged.recv().is_ok() {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "store checkpoint failed; the next one retries");
                    }
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start checkpoint thread: {e}")))?;
        Ok(Self { nudge, rows: 0 })
    }

    /// After a commit of `rows` rows.
    pub(crate) fn committed(&mut self, rows: usize) {
        self.rows += rows;
        if self.rows >= ROWS_PER_CHECKPOINT {
            self.rows = 0;
            // Full: a checkpoint is already due, and will copy these too.
            let _ = self.nudge.try_send(());
        }
    }
}
