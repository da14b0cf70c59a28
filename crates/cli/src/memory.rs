//! Sizes checked against the machine's memory before anything is allocated.

use anyhow::{ensure, Result};

/// The memory this machine can still give (Linux's MemAvailable), if known.
pub fn available() -> Option<f64> {
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
pub fn ensure_available(what: &str, bytes: f64) -> Result<()> {
    if let Some(available) = available() {
        ensure!(
            bytes <= 0.9 * available,
            "{what} needs about {} of memory, and this machine has {} available",
            human_bytes(bytes),
            human_bytes(available)
        );
    }
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
