//! `config.json`, the run record: the run's settings (a type of the training crate's, `C`) and one
//! entry per session that trained it.

use crate::CONFIG_FILE;
use anyhow::{ensure, Context, Result};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::path::Path;

/// A run record is a few kilobytes; anything much larger is not one, and is not read whole.
const MAX_RECORD_BYTES: u64 = 1 << 20;

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct RunRecord<C> {
    pub config: C,
    pub sessions: Vec<Session>,
}

/// Who trained the run from which iteration: the build (commit, tch, libtorch), the device and
/// the command line.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Session {
    pub started_unix: u64,
    pub start_iteration: u64,
    pub device: String,
    pub tch: String,
    pub libtorch: String,
    /// The commit the binary was built from (`-dirty` when its tree had changes).
    pub git_commit: String,
    pub command: Vec<String>,
    /// SHA-256 of the judge's weights when this session of training scored the run (--eval-every).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge_sha256: Option<String>,
}

impl<C> RunRecord<C> {
    /// The judge of the newest session that scored the run.
    pub fn judge(&self) -> Option<&str> {
        self.sessions.iter().rev().find_map(|s| s.judge_sha256.as_deref())
    }
}

/// Reads a file that is expected to be small, refusing one over `limit` bytes before reading it.
pub fn read_small_bytes(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    ensure!(meta.is_file(), "{} is not a regular file", path.display());
    ensure!(
        meta.len() <= limit,
        "{} is {} bytes, more than such a file ever holds ({limit})",
        path.display(),
        meta.len()
    );
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// [`read_small_bytes`], as text.
pub fn read_small(path: &Path, limit: u64) -> Result<String> {
    String::from_utf8(read_small_bytes(path, limit)?)
        .with_context(|| format!("cannot read {} (is it text?)", path.display()))
}

/// The record of the run in `run_dir`, with its settings read as `C`.
pub fn read<C: DeserializeOwned>(run_dir: &Path) -> Result<RunRecord<C>> {
    ensure!(
        run_dir.is_dir(),
        "{} is not a run directory ({}); start the run without --resume",
        run_dir.display(),
        if run_dir.exists() { "it is not a directory" } else { "it does not exist" }
    );
    let path = run_dir.join(CONFIG_FILE);
    ensure!(path.is_file(), "{} holds no run (no {CONFIG_FILE}); start the run without --resume", run_dir.display());
    let text = read_small(&path, MAX_RECORD_BYTES)?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a run record", path.display()))
}

pub fn write<C: Serialize>(run_dir: &Path, record: &RunRecord<C>) -> Result<()> {
    crate::atomic::write_json(&run_dir.join(CONFIG_FILE), record)
}
