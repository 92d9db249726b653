//! `cargo-airlock`: parse the command line into a mode, dispatch, turn the outcome into an exit
//! code (0 clean, 1 findings, 2 could not do the job).

fn main() {}
