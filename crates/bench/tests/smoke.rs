//! The benchmark's smoke run: `forkline-bench --quick` must finish and fill
//! every row it owns with a figure. No timing target is enforced here: CI
//! machines are too noisy for that, and figures are read, not gated.

use std::process::Command;

use serde_json::Value;


/// Units of figures that can only be positive when the case really ran.
const POSITIVE_UNITS: &[&str] = &["ns/event", "events/s", "msgs/s", "µs", "ms", "MiB", "subscribers complete", "×"];

#[test]
fn quick_bench_fills_every_row() {
    let json = std::env::temp_dir().join(format!("forkline-bench-smoke-{}.json", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_forkline-bench")).args(["--quick", "--json"]).arg(&json).output().expect("bench runs");
    assert!(output.status.success(), "bench failed: {}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&std::fs::read(&json).expect("JSON written")).expect("JSON parses");
    let _ = std::fs::remove_file(&json);
    let rows = report["rows"].as_array().expect("rows");
    assert!(rows.len() >= 20, "{report}");
    for row in rows {
        let note = row["note"].as_str().unwrap_or_default();
        assert!(!note.starts_with("failed"), "{row}");
        let Some(median) = row["stats"]["median"].as_f64() else {
            // Only rows this command does not own, or Python ones on a host without it.
            assert!(!note.is_empty(), "a row without a figure must say why: {row}");
            continue;
        };
        assert!(median.is_finite(), "{row}");
        if POSITIVE_UNITS.contains(&row["unit"].as_str().unwrap_or_default()) {
            assert!(median > 0.0, "{row}");
        }
    }
    // Each case of issue 8's table that this command owns has its rows, with
    // figures or with the reason they have none (VizTracer may be missing).
    for case in ["emit cost", "pipeline throughput", "instrumented queue", "instrumentation overhead", "sampler overhead"] {
        assert!(rows.iter().any(|r| r["case"] == case), "no {case:?} row: {report}");
    }
    let complete = rows.iter().find(|r| r["unit"] == "subscribers complete").expect("fan-out row");
    assert_eq!(complete["stats"]["min"], 20.0, "every subscriber gets every event: {complete}");
}
