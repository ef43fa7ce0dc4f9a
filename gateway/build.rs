//! Generates the GraphQL command edge from `proto/` (see trellis-codegen).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../proto");
    println!("cargo:rerun-if-changed={}", proto.join("trellis").display());
    let edge = trellis_codegen::Contract::load(&proto)?.graphql_command_edge()?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("command_edge.rs"), edge)?;
    Ok(())
}
