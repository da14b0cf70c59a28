//! What the tests that run the binaries share: tiny configurations over the real MNIST, and
//! ways to run and compare runs.
#![allow(dead_code)] // each test binary uses its own part

use logging::tensorboard::{read_dir, Record};
use std::path::Path;
use std::process::{Command, Output};

pub const TINY: [&str; 11] =
    ["--cpu", "--batch-size", "8", "--d-iters", "1", "--boost-d-iters", "2", "--log-every", "2", "--sample-every", "6"];

/// A binary of the workspace, built beside the test binaries (`cargo test --workspace` builds
/// them all; the tests of the sweep crate run `train` too).
pub fn binary(name: &str) -> std::path::PathBuf {
    let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    let path = deps.parent().unwrap().join(name);
    assert!(path.is_file(), "{} is not built (run the tests with --workspace)", path.display());
    path
}

/// The workspace's root (the tests of every package share these helpers).
pub fn workspace_root() -> std::path::PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.ancestors().find(|d| d.join("Cargo.lock").is_file()).expect("a workspace root").to_path_buf()
}

pub fn data_dir() -> String {
    workspace_root().join("data/mnist").to_string_lossy().into_owned()
}

pub fn command(bin: impl AsRef<std::ffi::OsStr>, runs: &Path, run: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    // Tests run in parallel on few cores: one libtorch thread each avoids oversubscription.
    cmd.args(["--runs-dir", runs.to_str().unwrap(), "--run", run])
        .args(extra)
        .env("RUST_BACKTRACE", "1")
        .env("OMP_NUM_THREADS", "1");
    cmd
}

/// `train` with the workspace's MNIST unless `extra` names a --data-dir.
pub fn train_command(runs: &Path, run: &str, extra: &[&str]) -> Command {
    let mut cmd = command(binary("train"), runs, run, extra);
    if !extra.contains(&"--data-dir") {
        cmd.args(["--data-dir", &data_dir()]);
    }
    cmd
}

pub fn train(runs: &Path, run: &str, extra: &[&str]) -> Output {
    train_command(runs, run, extra).output().unwrap()
}

pub fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A failure that is a clear message, not a panic or a backtrace; returns stderr.
pub fn clean_failure(out: Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "expected exit 1, stderr: {stderr}");
    assert!(
        stderr.starts_with("error: ") && !stderr.contains("panicked") && !stderr.contains("stack backtrace"),
        "{stderr}"
    );
    stderr
}

/// The bytes of the four state files of a checkpoint.
pub fn checkpoint_bytes(run_dir: &Path, done: u64) -> Vec<Vec<u8>> {
    ["generator", "critic", "rmsprop_generator", "rmsprop_critic"]
        .iter()
        .map(|f| std::fs::read(run_dir.join(format!("checkpoints/{done}/{f}.safetensors"))).unwrap())
        .collect()
}

pub fn scalars(run_dir: &Path) -> Vec<(String, u64, f32)> {
    let mut out: Vec<_> = read_dir(run_dir)
        .unwrap()
        .into_iter()
        .filter_map(|r| match r {
            Record::Scalar { tag, step, value } => Some((tag, step, value)),
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    out
}

/// Rewrites a checkpoint's SHA256SUMS after a deliberate edit (as `sha256sum` would), so that the
/// damage is one the checksums cannot see.
pub fn reseal(checkpoint: &Path) {
    let sums = Command::new("sh")
        .arg("-c")
        .arg("sha256sum $(ls | grep -v SHA256SUMS) > SHA256SUMS.new && mv SHA256SUMS.new SHA256SUMS")
        .current_dir(checkpoint)
        .status()
        .unwrap();
    assert!(sums.success());
}

/// Rewrites the tensors of a safetensors file through `edit`.
pub fn edit_tensors(file: &Path, edit: impl Fn(&str, tch::Tensor) -> tch::Tensor) {
    let tensors: Vec<(String, tch::Tensor)> =
        tch::Tensor::read_safetensors(file).unwrap().into_iter().map(|(n, t)| (n.clone(), edit(&n, t))).collect();
    let named: Vec<(&str, &tch::Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    tch::Tensor::write_safetensors(&named, file).unwrap();
}
