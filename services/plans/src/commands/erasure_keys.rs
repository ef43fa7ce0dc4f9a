//! What erasing clients needs, held by the command handler: where a
//! client's plans are found and their key destroyed, where the erasure is
//! logged, and the retention period.

use std::sync::Arc;

use trellis_kernel::{AccessLog, ClientErasure};

/// HIPAA's six years (164.316(b)(2)): the default retention period, for
/// a deployment that names none and a tenant that sets none.
pub const DEFAULT_RETENTION_YEARS: u32 = 6;

/// Where a client's plans are found and their key destroyed, and where
/// the erasure is logged.
#[derive(Clone)]
pub(super) struct Erasure {
    pub keys: Arc<dyn ClientErasure>,
    pub access_log: Arc<dyn AccessLog>,
    pub retention_years: u32,
}
