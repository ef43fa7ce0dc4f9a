//! The checks themselves. Each takes a store and panics on a violation.

mod global;
mod snapshots;
mod streams;

pub use global::*;
pub use snapshots::*;
pub use streams::*;
