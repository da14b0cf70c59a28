//! `<run>/checkpoints/<iterations done>/`: the state a run continues from. A checkpoint is
//! written under a temporary name and renamed when complete, and it is sealed: `SHA256SUMS`
//! (the format `sha256sum -c` reads) records the digest of every file in it, and readers verify
//! them before using any. Pruning renames before it deletes, so a kill at any instant leaves
//! complete numbered checkpoints only.

use crate::atomic::{self, PARTIAL_PREFIX};
use crate::failpoint;
use anyhow::{bail, ensure, Context, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub const DIR: &str = "checkpoints";
pub const GENERATOR_FILE: &str = "generator.safetensors";
pub const CRITIC_FILE: &str = "critic.safetensors";
pub const RMSPROP_G_FILE: &str = "rmsprop_generator.safetensors";
pub const RMSPROP_D_FILE: &str = "rmsprop_critic.safetensors";
/// `--as-published` only: the generator step's RMSprop state for the critic's parameters.
pub const RMSPROP_DG_FILE: &str = "rmsprop_generator_step_critic.safetensors";
pub const STATE_FILE: &str = "state.json";
pub const CHECKSUMS_FILE: &str = "SHA256SUMS";
/// Checkpoints kept besides those `--keep-every` keeps; older ones are pruned.
pub const KEEP: usize = 3;
/// A checksum list names a handful of files.
const MAX_CHECKSUMS_BYTES: u64 = 64 * 1024;

pub fn dir(run_dir: &Path) -> PathBuf {
    run_dir.join(DIR)
}

/// The numbered directories under `checkpoints/`, oldest first: where checkpoints are, before
/// any is verified.
pub fn list(run_dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let root = dir(run_dir);
    if !root.is_dir() {
        return Ok(Vec::new());
    }
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(&root)
        .with_context(|| format!("cannot list {}", root.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            // Only canonical numbers: "0300" or "+300" would alias checkpoint 300.
            let n: u64 = name.parse().ok()?;
            (n.to_string() == name).then(|| (n, e.path()))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// How far a checkpoint could be verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seal {
    /// Every file matches the digest `SHA256SUMS` records for it.
    Verified,
    /// Written before checkpoints were sealed: complete, but without digests to check.
    Unsealed,
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(hex::encode(hasher.finalize()))
}

/// Writes `SHA256SUMS` over every file of the directory `dir`.
fn seal(dir: &Path) -> Result<()> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n != CHECKSUMS_FILE)
        .collect();
    names.sort();
    let mut text = String::new();
    for name in names {
        text += &format!("{}  {name}\n", sha256_file(&dir.join(&name))?);
    }
    atomic::write_bytes(&dir.join(CHECKSUMS_FILE), text.as_bytes())
}

/// `SHA256SUMS` as (digest, file name) pairs, refusing anything but plain names and digests.
fn read_checksums(path: &Path) -> Result<Vec<(String, String)>> {
    let text = crate::record::read_small(path, MAX_CHECKSUMS_BYTES)?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let parsed = line.split_once("  ").filter(|(digest, name)| {
                digest.len() == 64
                    && digest.bytes().all(|b| b.is_ascii_hexdigit())
                    && !name.is_empty()
                    && !name.contains('/')
                    && !name.starts_with('.')
            });
            let (digest, name) =
                parsed.with_context(|| format!("{} line {}: not '<sha256>  <file name>'", path.display(), i + 1))?;
            Ok((digest.to_ascii_lowercase(), name.to_string()))
        })
        .collect()
}

/// Checks the checkpoint directory `dir`: every file `SHA256SUMS` lists has its digest, and the
/// `required` files are among them. A checkpoint without `SHA256SUMS` (written before sealing)
/// passes as `Unsealed` when its `required` files are there.
pub fn verify(dir: &Path, required: &[&str]) -> Result<Seal> {
    ensure!(dir.is_dir(), "{} is not a directory", dir.display());
    let sums = dir.join(CHECKSUMS_FILE);
    if !sums.exists() {
        ensure!(
            dir.join(STATE_FILE).is_file(),
            "{} holds neither {CHECKSUMS_FILE} nor {STATE_FILE}: it is not a complete checkpoint",
            dir.display()
        );
        for name in required {
            let path = dir.join(name);
            ensure!(path.is_file(), "{} is missing (and the checkpoint has no {CHECKSUMS_FILE})", path.display());
        }
        return Ok(Seal::Unsealed);
    }
    let listed = read_checksums(&sums)?;
    for name in required {
        ensure!(listed.iter().any(|(_, n)| n == name), "{} does not list {name}", sums.display());
    }
    for (digest, name) in &listed {
        let path = dir.join(name);
        ensure!(path.is_file(), "{} is missing", path.display());
        let actual = sha256_file(&path)?;
        ensure!(
            actual == *digest,
            "{} is damaged: its SHA-256 is {actual}, {CHECKSUMS_FILE} records {digest}",
            path.display()
        );
    }
    Ok(Seal::Verified)
}

/// Writes the checkpoint after `done` iterations: `fill` writes its files into a temporary
/// directory, which is sealed and renamed into place. Returns its directory.
pub fn write(run_dir: &Path, done: u64, fill: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
    let root = dir(run_dir);
    let dest = root.join(done.to_string());
    if matches!(verify(&dest, &[]), Ok(Seal::Verified)) {
        return Ok(dest); // the same iterations from the same seed: already saved
    }
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    atomic::write_dir(&dest, |tmp| {
        fill(tmp)?;
        seal(tmp)
    })
    .with_context(|| format!("cannot write checkpoint {}", dest.display()))?;
    failpoint("checkpoint-renamed");
    Ok(dest)
}

/// Prunes all but the newest `KEEP` checkpoints, keeping those after a multiple of `keep_every`
/// iterations (0: none). Each is renamed before it is deleted, so that a numbered directory is
/// never half deleted; a kill between the two steps leaves a temporary name, cleared when the run
/// is next locked.
pub fn prune(run_dir: &Path, keep_every: u64) -> Result<()> {
    let root = dir(run_dir);
    for (done, old) in list(run_dir)?.iter().rev().skip(KEEP) {
        if keep_every > 0 && done % keep_every == 0 {
            continue;
        }
        let doomed = root.join(format!("{PARTIAL_PREFIX}pruned-{done}-{}", std::process::id()));
        std::fs::rename(old, &doomed).with_context(|| format!("cannot prune {}", old.display()))?;
        failpoint("pruning");
        std::fs::remove_dir_all(&doomed).with_context(|| format!("cannot remove {}", doomed.display()))?;
    }
    Ok(())
}

/// What to tell a user whose checkpoint `bad` cannot be used: the newest intact one before it,
/// and how to continue from it (`--resume` takes the newest numbered checkpoint, so the damaged
/// one is moved aside; tools with `--checkpoint` can name the intact one directly).
pub fn intact_hint(run_dir: &Path, bad: &Path, required: &[&str]) -> String {
    let bad_n: Option<u64> = bad.file_name().and_then(|n| n.to_str()).and_then(|n| n.parse().ok());
    let intact = list(run_dir)
        .unwrap_or_default()
        .into_iter()
        .rev()
        .filter(|(n, _)| bad_n.is_none_or(|b| *n < b))
        .find(|(_, d)| verify(d, required).is_ok());
    let aside = bad.with_file_name(format!("damaged-{}", bad.file_name().unwrap_or_default().to_string_lossy()));
    match intact {
        Some((n, d)) => format!(
            "the newest intact checkpoint is {}: move the damaged one aside \
             (mv {} {}) and --resume continues from it, or pass --checkpoint {n} to tools that read one",
            d.display(),
            bad.display(),
            aside.display()
        ),
        None => format!(
            "no older checkpoint is intact; move the damaged one aside (mv {} {}) and --resume starts the run over",
            bad.display(),
            aside.display()
        ),
    }
}

/// The checkpoint after `iteration` iterations, or the newest one, verified to hold `required`.
/// Returns (iterations done, directory, seal).
pub fn find(run_dir: &Path, iteration: Option<u64>, required: &[&str]) -> Result<(u64, PathBuf, Seal)> {
    let all = list(run_dir)?;
    let found = match iteration {
        Some(it) => all.iter().find(|(i, _)| *i == it),
        None => all.last(),
    };
    let (n, dir) = match (found, iteration) {
        (Some(c), _) => c.clone(),
        (None, _) if !run_dir.is_dir() => bail!("there is no run directory {}", run_dir.display()),
        (None, _) if all.is_empty() => {
            bail!("{} holds no checkpoint yet (is {} a run directory?)", dir(run_dir).display(), run_dir.display())
        }
        (None, Some(it)) => {
            let have: Vec<String> = all.iter().map(|(i, _)| i.to_string()).collect();
            bail!("no checkpoint at iteration {it} in {}; there are: {}", dir(run_dir).display(), have.join(", "))
        }
        (None, None) => unreachable!("an empty list is handled above"),
    };
    match verify(&dir, required) {
        Ok(seal) => Ok((n, dir, seal)),
        Err(e) => bail!("{e:#}. Checkpoint {} cannot be used; {}", dir.display(), intact_hint(run_dir, &dir, required)),
    }
}
