//! Replays every input a fuzzer ever crashed on (`fuzz/regressions/<target>/`,
//! saved by `cargo xtask fuzz`) through the same harness the fuzzer ran:
//! each must now be read or refused with a proper one-line error, under the
//! fuzzers' 2 GiB memory cap.

use fuzz_harness::{Outcome, regressions, run};

#[test]
fn every_saved_crash_input_is_now_handled() {
    // The fuzzers' cap, as an address-space limit: this test binary runs
    // nothing else.
    let cap = fuzz_harness::ALLOC_CAP as libc::rlim_t;
    let lim = libc::rlimit { rlim_cur: cap, rlim_max: cap };
    // SAFETY: setrlimit reads the struct and nothing else.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) }, 0);
    let cases = regressions();
    let mut refused = 0;
    for (target, path) in &cases {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // A panic here names the input through the message below.
        eprintln!("replaying {} through {}", path.display(), target.name);
        let start = std::time::Instant::now();
        if let Outcome::Refused(_) = run(target, &data) {
            refused += 1;
        }
        // An input saved for a timeout must now finish well inside the
        // fuzzers' 10 s limit: each takes under a second with its fix (the
        // `onnx_external` one, a quadratic axes lookup, took 55 s here before).
        let took = start.elapsed();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("timeout-")) {
            assert!(took.as_secs() < 10, "{} still takes {took:?}", path.display());
        }
    }
    eprintln!("{} regression inputs replayed, {refused} refused with a proper error", cases.len());
}

#[test]
fn regression_folders_name_real_targets() {
    let dir = fuzz_harness::regressions_dir();
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_dir() {
            assert!(fuzz_harness::target(&name).is_some(), "fuzz/regressions/{name} is not a fuzz target");
        }
    }
}

#[test]
fn every_harness_target_has_a_cargo_fuzz_binary_and_back() {
    let dir = fuzz_harness::workspace_root().join("fuzz/libfuzzer");
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("fuzz/libfuzzer/Cargo.toml");
    let bins: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|n| *n != "model-convert-fuzz")
        .collect();
    let names: Vec<&str> = fuzz_harness::TARGETS.iter().map(|t| t.name).collect();
    assert_eq!(bins, names, "fuzz/libfuzzer/Cargo.toml [[bin]]s and fuzz_harness::TARGETS differ");
    for t in &names {
        let src = std::fs::read_to_string(dir.join(format!("fuzz_targets/{t}.rs")))
            .unwrap_or_else(|e| panic!("fuzz_targets/{t}.rs: {e}"));
        assert!(src.contains(&format!("target!(\"{t}\")")), "fuzz_targets/{t}.rs does not run target {t}");
    }
}
