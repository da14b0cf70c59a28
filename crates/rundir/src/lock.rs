//! One process trains a run at a time: it holds the lock on `<run>/.lock` (released on exit, also
//! when killed), so the temporary files and directories it finds on taking the lock are
//! leftovers of killed processes, and are removed.

use crate::atomic::{PARTIAL_PREFIX, PARTIAL_SUFFIX};
use anyhow::{bail, Context, Result};
use std::fs::{File, TryLockError};
use std::path::Path;

pub const LOCK_FILE: &str = ".lock";

pub struct Lock {
    _file: File,
}

impl Lock {
    /// Takes the run's lock, then removes what killed processes left half-written.
    pub fn take(run_dir: &Path) -> Result<Lock> {
        let path = run_dir.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                bail!("another process is training {} now; wait for it or stop it first", run_dir.display())
            }
            Err(TryLockError::Error(e)) => return Err(e).with_context(|| format!("cannot lock {}", path.display())),
        }
        remove_partials(run_dir)?;
        Ok(Lock { _file: file })
    }
}

/// Whether a process holds the run's lock now (is training it).
pub fn is_held(run_dir: &Path) -> bool {
    let Ok(file) = File::options().write(true).open(run_dir.join(LOCK_FILE)) else { return false };
    matches!(file.try_lock(), Err(TryLockError::WouldBlock))
}

/// Removes the temporary checkpoint directories and files of processes that were killed while
/// writing them (only called with the run's lock held, so no live process is writing them).
fn remove_partials(run_dir: &Path) -> Result<()> {
    for dir in [crate::checkpoint::dir(run_dir), run_dir.join(crate::SAMPLES_DIR), run_dir.to_path_buf()] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.starts_with(PARTIAL_PREFIX) || name.ends_with(PARTIAL_SUFFIX)) {
                continue;
            }
            let path = entry.path();
            let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            removed.with_context(|| format!("cannot remove the leftover {}", path.display()))?;
        }
    }
    Ok(())
}

/// Whether `dir` holds nothing, or only what a process killed while creating the run left there
/// (its lock and a half-written record), so that a fresh start is no dead end.
pub fn never_created(dir: &Path) -> bool {
    let partial = crate::atomic::partial_path(&dir.join(crate::CONFIG_FILE));
    std::fs::read_dir(dir)
        .map(|d| d.flatten().all(|e| e.file_name() == LOCK_FILE || e.path() == partial))
        .unwrap_or(false)
}
