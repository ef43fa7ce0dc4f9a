//! Generates the wire → domain enum conversions from `proto/` (see
//! trellis-codegen).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    println!("cargo:rerun-if-changed={}", proto.join("trellis").display());
    let mappings = trellis_codegen::Contract::load(&proto)?.domain_enum_mappings();
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("wire_enums.rs"), mappings)?;
    Ok(())
}
