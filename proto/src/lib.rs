//! The Trellis wire contract, generated from `proto/` at build time, and
//! the codec it is served with.

pub mod codec;

/// `trellis.plans.v1`: commands on treatment plans.
pub mod plans {
    pub mod v1 {
        #![allow(clippy::all, missing_debug_implementations, rust_2018_idioms)]
        tonic::include_proto!("trellis.plans.v1");
    }
}

/// `trellis.audit.v1`: the auditor's API.
pub mod audit {
    pub mod v1 {
        #![allow(clippy::all, missing_debug_implementations, rust_2018_idioms)]
        tonic::include_proto!("trellis.audit.v1");
    }
}

/// Encoded `FileDescriptorSet` of every Trellis proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/trellis_descriptor.bin"));
