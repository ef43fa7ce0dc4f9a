//! A save's encoding, spread out so it never holds a core for long.
//!
//! The embedded server's commands share its cores with the saves. A save
//! of many large plans encoded in one go (serialized, compared, sealed)
//! took a core from them for tens of milliseconds, and every command in
//! flight then waited (docs/benchmarks.md). The write that follows is not
//! paced: it holds the read models' connection, which listings wait for.

use tokio::time::{Duration, Instant};

/// How long a save encodes before it rests.
const SLICE: Duration = Duration::from_millis(2);

/// A save rests as long as it encoded: at most half a core.
const REST_FACTOR: u32 = 1;

pub(super) struct EncodingPace {
    since: Instant,
}

impl EncodingPace {
    pub fn start() -> Self {
        Self {
            since: Instant::now(),
        }
    }

    /// Rests once a slice's worth of encoding is done since the last rest.
    pub async fn rest_if_due(&mut self) {
        let worked = self.since.elapsed();
        if worked >= SLICE {
            tokio::time::sleep(worked * REST_FACTOR).await;
            self.since = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn encoding_shorter_than_a_slice_goes_on_at_once() {
        let mut pace = EncodingPace::start();
        tokio::time::advance(SLICE / 2).await;
        let before = Instant::now();
        pace.rest_if_due().await;
        assert_eq!(before.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slice_of_encoding_is_followed_by_as_long_a_rest_and_a_new_slice() {
        let mut pace = EncodingPace::start();
        tokio::time::advance(SLICE * 3).await;
        let before = Instant::now();
        pace.rest_if_due().await;
        assert_eq!(before.elapsed(), SLICE * 3 * REST_FACTOR);
        // The rest starts the next slice: no second rest right after it.
        let after_rest = Instant::now();
        pace.rest_if_due().await;
        assert_eq!(after_rest.elapsed(), Duration::ZERO);
    }
}
