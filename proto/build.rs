//! Compiles the `.proto` files with protox (pure Rust), so no `protoc` is
//! needed on the build machine.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "trellis/plans/v1/plans.proto",
        "trellis/audit/v1/audit.proto",
    ];
    for proto in protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(protos, ["."])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // Kept for gRPC reflection.
    std::fs::write(
        out.join("trellis_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    // Undecodable requests are the caller's error, not ours (src/codec.rs).
    tonic_prost_build::configure()
        .codec_path("crate::codec::Codec")
        .compile_fds(descriptors)?;
    Ok(())
}
