//! The rules of a run directory, in one place for every tool that reads or writes one.
//!
//! ```text
//! <runs-dir>/<run>/config.json                 the run record (settings and sessions), `record`
//! <runs-dir>/<run>/.lock                       held while a process trains the run, `lock`
//! <runs-dir>/<run>/events.out.tfevents.*       TensorBoard event files, with the tags of `tags`
//! <runs-dir>/<run>/samples/samples_NNNNNNN.png the sample grids
//! <runs-dir>/<run>/checkpoints/<done>/         complete checkpoints, `checkpoint`
//! ```
//!
//! Every file is written whole or not at all (`atomic`), and tools other than training write
//! into a run only under names they own (`output`). This crate knows names and bytes, not
//! tensors: it depends on nothing of libtorch.

pub mod atomic;
pub mod checkpoint;
pub mod lock;
pub mod output;
pub mod record;
pub mod tags;

use std::path::{Path, PathBuf};

pub const CONFIG_FILE: &str = "config.json";
pub const SAMPLES_DIR: &str = "samples";
/// A sweep is a directory of runs with its plan (`<runs-dir>/<sweep>/sweep.json`).
pub const SWEEP_PLAN_FILE: &str = "sweep.json";

/// A run name is one plain path component, so a run stays inside its runs directory.
pub fn check_run_name(s: &str) -> Result<(), String> {
    let plain = s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if s.is_empty() || !plain || s.starts_with('.') || s.starts_with('-') {
        return Err(
            "a run name is a plain name: letters, digits, '.', '_' and '-', not starting with '.' or '-'".into()
        );
    }
    Ok(())
}

/// The file of the sample grid logged after iteration `it`.
pub fn sample_grid_file(run_dir: &Path, it: u64) -> PathBuf {
    run_dir.join(SAMPLES_DIR).join(format!("samples_{it:07}.png"))
}

/// Whether `dir` holds a run (its record).
pub fn is_run(dir: &Path) -> bool {
    dir.join(CONFIG_FILE).is_file()
}

/// A test hook: with `WGAN_FAILPOINT=<name>:<k>`, the process ends abruptly (abort: no cleanup, as
/// under SIGKILL) the k-th time it reaches the point `name`, so that tests can kill it in the
/// middle of a checkpoint write or of pruning, which a timed kill rarely hits.
pub fn failpoint(name: &str) {
    static REACHED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let Ok(spec) = std::env::var("WGAN_FAILPOINT") else { return };
    let Some((point, k)) = spec.split_once(':') else { return };
    if point == name && REACHED.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == k.parse().unwrap_or(0) {
        std::process::abort();
    }
}
