//! Emission of the cargo-fuzz project: one generator per target kind ([`deser`], [`ffi`],
//! [`format`], [`parse`]), each turning a discovered item into an [`Emitted`] target (commented
//! like a hand-written one), and [`project`], which writes the files. Sources come from plain
//! `format!` templates that are already formatted as rustfmt would (as in cargo-fuzz's own
//! `templates.rs`); a test checks them with `rustfmt --check`. [`probe`] writes the probe project
//! of vet's `probe` phase, a plain cargo package beside it.

pub(crate) mod deser;
pub(crate) mod ffi;
pub(crate) mod format;
pub(crate) mod parse;
pub(crate) mod probe;
pub(crate) mod project;
pub(crate) mod shaped;
mod target;
