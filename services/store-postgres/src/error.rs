//! How database errors surface as store errors.

use trellis_kernel::StoreError;

/// A database error the caller can only retry later.
pub(crate) fn unavailable(e: &sqlx::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}
