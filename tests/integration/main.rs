//! Integration tests: the real `cargo-airlock` binary, the real kernel sandbox, real fixtures.
//! One binary for every integration test (ripgrep's layout); modules by command.

#[path = "../common/mod.rs"]
mod common;
#[macro_use]
mod support;

mod build;
mod cli;
mod sandbox;
mod sandbox_net;
