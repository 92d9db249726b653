//! Discovery of `serde::Deserialize` types and safe wrappers over FFI in a package's sources, and
//! emission of a cargo-fuzz project with one target per discovered item.

pub mod cfg;
pub mod error;
pub mod model;
pub mod source;

pub use error::GenError;
pub mod deser;
pub mod serde_attrs;
pub mod types;
pub mod ffi;
