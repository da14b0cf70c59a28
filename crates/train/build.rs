//! Records what this binary is built from (the git commit, libtorch and tch versions) for each
//! run's config.json, so that a copy of the binary still says what trained which iterations, and
//! links libtorch's CUDA backend when it has one.
include!("../model/link_cuda.rs");

fn main() {
    link_torch_cuda();
    let libtorch = std::env::var("LIBTORCH")
        .ok()
        .and_then(|dir| std::fs::read_to_string(std::path::Path::new(&dir).join("version.py")).ok())
        .and_then(|py| {
            let line = py.lines().find(|l| l.starts_with("__version__"))?;
            Some(line.split('\'').nth(1)?.to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=LIBTORCH_VERSION={libtorch}");
    println!("cargo:rustc-env=TCH_VERSION={}", tch_version().unwrap_or_else(|| "unknown".into()));
    println!("cargo:rustc-env=GIT_COMMIT={}", git_commit().unwrap_or_else(|| "unknown".into()));
}

/// `git describe --always --dirty` of the workspace. Rebuilt when a commit is made or checked out
/// (HEAD, the index) and when any source of the workspace changes (which may make it dirty).
fn git_commit() -> Option<String> {
    let manifest_dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").ok()?);
    let root = manifest_dir.ancestors().find(|d| d.join(".git").exists())?;
    for watched in [".git/HEAD", ".git/index", ".git/refs", "crates", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let out = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=40"])
        .current_dir(root)
        .output()
        .ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// tch's version from the nearest Cargo.lock above this crate (the workspace's, or the device
/// build's generated one).
fn tch_version() -> Option<String> {
    let manifest_dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").ok()?);
    let lock = manifest_dir.ancestors().map(|d| d.join("Cargo.lock")).find(|p| p.is_file())?;
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(lock).ok()?;
    let entry = text.split("[[package]]").find(|p| p.contains("name = \"tch\"\n"))?;
    let line = entry.lines().find(|l| l.starts_with("version = "))?;
    Some(line.trim_start_matches("version = ").trim_matches('"').to_string())
}
