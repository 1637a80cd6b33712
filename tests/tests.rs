//! Integration tests: the `dr-action` binary against real stores and servers on loopback.
//! One test binary; each module covers one capability.

// Fixtures fail loudly: a panic in a helper is a test failure with its message.
#![allow(clippy::unwrap_used)]

mod util;

mod postgres;
mod restore;
mod restore_pg;
