//! Every rpc's handler under the rpc's own name, for the generated
//! `PlanService` impl: a command's mapping (wire fields → domain command)
//! or, for settings and templates, the whole handler. Adding an rpc to the
//! proto means adding its function, by that name, to the section it
//! belongs to; the compiler names any that is missing. The globs are the
//! point: no list here to keep in step.

pub(super) use super::clinical::*;
pub(super) use super::corrections::*;
pub(super) use super::erasure::*;
pub(super) use super::goals::*;
pub(super) use super::lifecycle::*;
pub(super) use super::measures::*;
pub(super) use super::reviews::*;
pub(super) use super::settings::*;
pub(super) use super::staff::*;
pub(super) use super::templates::*;
