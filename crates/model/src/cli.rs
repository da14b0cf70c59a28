//! What every binary does at its edges: errors printed as one clear message and exit status 1,
//! never a panic's backtrace, and sizes checked against memory before anything is allocated.

use anyhow::{bail, ensure, Result};
use std::path::{Path, PathBuf};

/// Runs a binary's body and exits: 0, or 1 with `error: ...` on stderr. A panic (a bug, or a
/// libtorch error the flags' checks did not foresee: tch panics on those) is reported the same
/// way, as one line without libtorch's C++ stack frames.
pub fn main(body: impl FnOnce() -> Result<()>) -> ! {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let text = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("unknown panic");
        let at = info.location().map(|l| format!(" (at {}:{})", l.file(), l.line())).unwrap_or_default();
        eprintln!("error: {}{at}\nThis is a bug: please report it with the command line.", first_line(text));
    }));
    let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            eprintln!("error: {e:#}");
            1
        }
        Err(_) => 1, // the hook has said what happened
    };
    std::process::exit(code)
}

/// The message of a panic without libtorch's C++ frames ("Exception raised from ... frame #0").
fn first_line(text: &str) -> String {
    let text = text.split("Exception raised from").next().unwrap_or(text);
    let text = text.lines().next().unwrap_or("").trim_end_matches("\\n").trim();
    text.to_string()
}

/// The memory this machine can still give (Linux's MemAvailable), if known.
pub fn available_memory() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: f64 = info
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024.0)
}

/// Refuses work that needs about `bytes` of host memory when this machine has less available.
pub fn ensure_memory(what: &str, bytes: f64) -> Result<()> {
    if let Some(available) = available_memory() {
        ensure!(
            bytes <= 0.9 * available,
            "{what} needs about {} of memory, and this machine has {} available",
            human_bytes(bytes),
            human_bytes(available)
        );
    }
    Ok(())
}

/// A run name is one plain path component, so a run stays inside its runs directory (a clap
/// value parser, shared by every binary that takes --run).
pub fn run_name(s: &str) -> Result<String, String> {
    let plain = s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if s.is_empty() || !plain || s.starts_with('.') || s.starts_with('-') {
        return Err(
            "a run name is a plain name: letters, digits, '.', '_' and '-', not starting with '.' or '-'".into()
        );
    }
    Ok(s.to_string())
}

/// The directory of the run that `path` lies in, if any (a directory above it with config.json).
fn enclosing_run(path: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(path).ok()?;
    absolute.ancestors().skip(1).find(|d| d.join("config.json").is_file()).map(Path::to_path_buf)
}

/// Refuses an output path that would replace what it should not: a path inside a run directory
/// (a run's config, checkpoints, logs and grids are never written by other tools) unless `ours`
/// says the tool owns that name there; anything but a regular file; an existing file without
/// `force`.
pub fn check_output(out: &Path, force: bool, ours: impl Fn(&Path) -> bool) -> Result<()> {
    if let Some(run) = enclosing_run(out).filter(|_| !ours(out)) {
        bail!(
            "{} is inside the run directory {}, whose files this tool never writes; choose a path outside it",
            out.display(),
            run.display()
        );
    }
    let Ok(meta) = std::fs::symlink_metadata(out) else { return Ok(()) };
    ensure!(meta.is_file(), "{} exists and is not a regular file; choose another output path", out.display());
    ensure!(force, "{} exists; pass --force to replace it, or choose another output path", out.display());
    Ok(())
}

pub fn human_bytes(bytes: f64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", units[unit])
}

#[cfg(test)]
mod tests {
    #[test]
    fn torch_errors_lose_their_stack_frames() {
        let panic = "called `Result::unwrap()` on an `Err` value: Torch(\"The size of tensor a (3) must match the size of tensor b (4)\\nException raised from infer_size_impl at ../aten/src/ATen/ExpandUtils.cpp:31 (most recent call first):\\nframe #0: c10::Error\")";
        assert_eq!(
            super::first_line(panic),
            "called `Result::unwrap()` on an `Err` value: Torch(\"The size of tensor a (3) must match the size of tensor b (4)"
        );
        assert_eq!(super::human_bytes(4.1e12), "4.1 TB");
    }
}
