//! The one rule for every file a tool writes at a path the user names (`--out`, `--csv`): never
//! into a run's or a sweep's own files, never over anything but a regular file, and over an
//! existing file only with `--force`.

use anyhow::{bail, ensure, Result};
use std::path::{Path, PathBuf};

/// The directory above `path` (or `path` itself, with `include_self`) that holds a run or a
/// sweep plan, if any, with its kind ("run" or "sweep").
pub fn enclosing_run_or_sweep(path: &Path, include_self: bool) -> Option<(&'static str, PathBuf)> {
    let absolute = std::path::absolute(path).ok()?;
    absolute.ancestors().skip(usize::from(!include_self)).find_map(|d| {
        let kind = if d.join(crate::CONFIG_FILE).is_file() {
            "run"
        } else if d.join(crate::SWEEP_PLAN_FILE).is_file() {
            "sweep"
        } else {
            return None;
        };
        Some((kind, d.to_path_buf()))
    })
}

/// Refuses an output path that would replace what it should not: a path inside a run or sweep
/// directory, unless `ours` says the tool owns that name there; anything but a regular file (a
/// directory, a device, a symbolic link); an existing file without `force`.
pub fn check(out: &Path, force: bool, ours: impl Fn(&Path) -> bool) -> Result<()> {
    if let Some((kind, dir)) = enclosing_run_or_sweep(out, false).filter(|_| !ours(out)) {
        bail!(
            "{} is inside the {kind} directory {}, whose files this tool never writes; choose a path outside it",
            out.display(),
            dir.display()
        );
    }
    let Ok(meta) = std::fs::symlink_metadata(out) else { return Ok(()) };
    ensure!(meta.is_file(), "{} exists and is not a regular file; choose another output path", out.display());
    ensure!(force, "{} exists; pass --force to replace it, or choose another output path", out.display());
    Ok(())
}

/// Refuses a directory a tool fills with files of its own (`--judge-dir`, `data fetch --dir`)
/// when it is, or lies inside, a run or a sweep.
pub fn check_dir(dir: &Path, what: &str) -> Result<()> {
    if let Some((kind, found)) = enclosing_run_or_sweep(dir, true) {
        bail!(
            "{} is {}the {kind} directory {}: {what} never goes into a run's or a sweep's files; choose another directory",
            dir.display(),
            if std::path::absolute(dir).ok().as_deref() == Some(found.as_path()) { "" } else { "inside " },
            found.display()
        );
    }
    Ok(())
}
