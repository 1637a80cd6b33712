//! Integration tests: the `dr-action` binary against real stores and servers on loopback.
//! One test binary; each module covers one capability.

// Fixtures and fakes fail loudly: a panic in a helper is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::new_without_default)]

mod azurite;
mod fakes;
mod fixtures;
mod moto;
mod postgres;
mod smtp;
mod util;

mod alerts;
mod audit;
mod azure;
mod badge;
mod cancel;
mod check;
mod cmd;
mod config;
mod crypt;
mod demo;
mod evidence;
mod formats;
mod github;
mod hostile_pg;
mod kpi;
mod ledger;
mod output;
mod parallel_reads;
mod props;
mod restore;
mod restore_pg;
mod s3;
mod s3_archive;
mod s3_restore;
mod sets;
mod site;
