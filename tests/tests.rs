//! Integration tests: the `dr-action` binary against real stores and servers on loopback.
//! One test binary; each module covers one capability.
// Fixtures and fakes panic on broken setup, as tests do.
#![allow(clippy::unwrap_used, clippy::new_without_default)]

mod fakes;
mod github;
mod util;
