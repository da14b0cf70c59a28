//! Records the libtorch version this binary is built against (for each run's config.json).
fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let version = std::env::var("LIBTORCH")
        .ok()
        .and_then(|dir| std::fs::read_to_string(std::path::Path::new(&dir).join("version.py")).ok())
        .and_then(|py| {
            let line = py.lines().find(|l| l.starts_with("__version__"))?;
            Some(line.split('\'').nth(1)?.to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=LIBTORCH_VERSION={version}");
}
