//! The command line as data: each `tests/cmd/*.toml` is one run of the binary (arguments, a
//! clean environment, the folder it runs in) with its exit code, stdout (`.stdout`) and stderr
//! (`.stderr`) pinned whole, and the files it writes (`.out/`) where it writes any. Fixture
//! folders end in `.in`: `configs.in` holds one config per error message, `reports.in` the
//! reports and KPI files. A changed message fails here; after an intended change, regenerate
//! with `TRYCMD=overwrite cargo test --test tests cmd::` and review the diff.

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .register_bin(
            "dr-action",
            std::path::Path::new(env!("CARGO_BIN_EXE_dr-action")),
        )
        .case("tests/cmd/*.toml");
}
