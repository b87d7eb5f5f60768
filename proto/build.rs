//! Generates the tonic/prost code for `stratus.v1` with a vendored `protoc`, so a
//! build needs nothing installed beyond the Rust toolchain.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    // `bytes` fields as `Bytes`: record keys and values reach storage without a copy.
    config.bytes(["."]);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("stratus_v1_descriptor.bin"))
        .compile_with_config(
            config,
            &[
                "proto/stratus/v1/stratus.proto",
                "proto/stratus/v1/groups.proto",
                "proto/stratus/v1/triggers.proto",
                "proto/stratus/v1/users.proto",
            ],
            &["proto"],
        )?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
