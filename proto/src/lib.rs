//! The Stratus wire schema, package `stratus.v1`: messages and the `Admin`,
//! `Producer`, `Consumer`, `Groups` and `Triggers` gRPC services (generated), and the key
//! partitioner every client must share.

#[allow(unreachable_pub, missing_debug_implementations, clippy::all)]
pub mod v1 {
    tonic::include_proto!("stratus.v1");

    /// Encoded `FileDescriptorSet` for gRPC server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("stratus_v1_descriptor");
}

pub mod frame;
pub mod limits;
pub mod partitioner;

#[cfg(feature = "otel")]
pub mod trace_context;
