//! The GPU check script, dry-run on this machine's CPU (same steps, tiny sizes), so that it works
//! on a GPU machine: every step succeeds, and the report, log and sample grid are written.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_device_check_dry_runs_on_the_cpu() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin_dir = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().to_path_buf();
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(repo.join("scripts/device-check"))
        .env("DRY_RUN", "1")
        .env("OUT", out.path())
        .env("BIN_DIR", &bin_dir)
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap();
    let log = std::fs::read_to_string(out.path().join("log.txt")).unwrap_or_default();
    assert!(run.status.success(), "{}\n{log}", String::from_utf8_lossy(&run.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["ok"], true, "{report:#}\n{log}");
    let steps: Vec<&str> = report["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    for step in ["cuda_seen", "model_summary", "train_15", "resume_to_30", "bench", "boost_iteration", "sample_grid"] {
        assert!(steps.contains(&step), "no step {step}: {steps:?}");
    }
    assert!(report["bench"]["rust-tch-subpixel-bf16"].as_f64().unwrap() > 0.0, "{report:#}");
    assert!(report["projected_20000_iterations_hours_fp32"].as_f64().unwrap() > 0.0, "{report:#}");
    let png = std::fs::read(out.path().join("samples.png")).unwrap();
    let grid = logging::read_gray_png(&png).unwrap();
    assert_eq!(grid.dim(), (280, 280));
}
