//! Files and directories written whole or not at all: under a temporary name beside the
//! destination, renamed into place when complete, removed when the write fails. A process killed
//! in the middle leaves only the temporary name, which `lock::Lock::take` clears.

use anyhow::{Context, Result};
use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// What a temporary file's name ends with (`config.json.partial`).
pub const PARTIAL_SUFFIX: &str = ".partial";
/// What a temporary directory's name starts with (`checkpoints/.partial-300-4242`).
pub const PARTIAL_PREFIX: &str = ".partial-";

/// Where `write_with` writes `path` before renaming it into place.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(PARTIAL_SUFFIX);
    path.with_file_name(name)
}

/// Writes `path` through `write`, atomically.
pub fn write_with(path: &Path, write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>) -> Result<()> {
    let tmp = partial_path(path);
    let written = (|| {
        let mut out = BufWriter::new(File::create(&tmp)?);
        write(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}

pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |out| out.write_all(bytes))
}

/// `value` as pretty JSON with a final newline.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    write_bytes(path, text.as_bytes())
}

/// Creates the directory `dest` by filling a temporary one (`fill` gets its path), then renaming
/// it into place; an existing `dest` is replaced only once the new one is complete.
pub fn write_dir(dest: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = parent.join(format!("{PARTIAL_PREFIX}{name}-{}", std::process::id()));
    let old = parent.join(format!("{PARTIAL_PREFIX}replaced-{name}-{}", std::process::id()));
    let written = (|| -> Result<()> {
        std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        fill(&tmp)?;
        if dest.exists() {
            std::fs::rename(dest, &old)?;
        }
        std::fs::rename(&tmp, dest)?;
        if old.exists() {
            std::fs::remove_dir_all(&old)?;
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    written.with_context(|| format!("cannot write {}", dest.display()))
}
