//! Generates from `proto/` (see trellis-codegen) the wire → domain enum
//! conversions and the `PlanService` impl that routes each rpc to its
//! handler.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    println!("cargo:rerun-if-changed={}", proto.join("trellis").display());
    let contract = trellis_codegen::Contract::load(&proto)?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("wire_enums.rs"), contract.domain_enum_mappings())?;
    std::fs::write(out.join("plan_service.rs"), contract.grpc_service_impl())?;
    Ok(())
}
