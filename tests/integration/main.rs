//! Integration tests: the real `cargo-airlock` binary, the real kernel sandbox, real fixtures.
//! One binary for every integration test (ripgrep's layout); modules by command.

#[path = "../common/mod.rs"]
mod common;
#[macro_use]
mod support;

mod build;
mod build_conftest;
mod build_report;
mod cli;
mod fuzz_events;
mod gen;
/// The loopback sparse registry of the runner's registry tests, shared.
#[path = "../../runner/tests/vet_registry/server.rs"]
#[allow(dead_code)]
mod registry_server;
mod sandbox;
mod sandbox_decoys;
mod sandbox_fs;
mod sandbox_net;
mod test_cmd;
mod vet;
mod vet_load;
mod vet_probe;
mod vet_workspace;
