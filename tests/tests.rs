//! Integration tests: the `dr-action` binary against real stores and servers on loopback.
//! One test binary; each module covers one capability.

// Helpers here are test code too (clippy.toml's allowance covers only `#[test]` functions).
#![allow(clippy::unwrap_used)]

mod moto;
mod s3;
mod util;
