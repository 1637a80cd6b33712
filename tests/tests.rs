//! Integration tests: the `dr-action` binary against real stores and servers on loopback.
//! One test binary; each module covers one capability.

mod util;
