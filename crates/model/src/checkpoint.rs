//! Where a run keeps its checkpoints, and loading a generator from one (for sampling and scoring).
//! A checkpoint is `<run>/checkpoints/<iterations done>/`; one being written has a dotted
//! temporary name until it is complete, so every numbered directory is a complete checkpoint.

use crate::{Generator, Precision, Upsample};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use tch::{nn, Device, Tensor};

pub const GENERATOR_FILE: &str = "generator.safetensors";
pub const CRITIC_FILE: &str = "critic.safetensors";

pub fn dir(run_dir: &Path) -> PathBuf {
    run_dir.join("checkpoints")
}

/// Complete checkpoints of a run, oldest first, as (iterations done, directory).
pub fn list(run_dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let root = dir(run_dir);
    if !root.is_dir() {
        return Ok(Vec::new());
    }
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(&root)
        .with_context(|| format!("cannot list {}", root.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path())))
        .collect();
    found.sort();
    Ok(found)
}

/// The checkpoint after `iteration` iterations, or the newest one.
pub fn find(run_dir: &Path, iteration: Option<u64>) -> Result<(u64, PathBuf)> {
    let all = list(run_dir)?;
    let found = match iteration {
        Some(it) => all.iter().find(|(i, _)| *i == it),
        None => all.last(),
    };
    match (found, iteration) {
        (Some(c), _) => Ok(c.clone()),
        (None, _) if !run_dir.is_dir() => bail!("there is no run directory {}", run_dir.display()),
        (None, _) if all.is_empty() => {
            bail!("{} holds no checkpoint yet (is {} a run directory?)", dir(run_dir).display(), run_dir.display())
        }
        (None, Some(it)) => {
            let have: Vec<String> = all.iter().map(|(i, _)| i.to_string()).collect();
            bail!("no checkpoint at iteration {it} in {}; there are: {}", dir(run_dir).display(), have.join(", "))
        }
        (None, None) => unreachable!(),
    }
}

/// Loads the generator of a checkpoint directory; its latent size is read from the file.
pub fn load_generator(
    checkpoint: &Path,
    device: Device,
    upsample: Upsample,
    precision: Precision,
) -> Result<(nn::VarStore, Generator)> {
    let file = checkpoint.join(GENERATOR_FILE);
    let tensors = Tensor::read_safetensors(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let z_size = tensors
        .iter()
        .find(|(name, _)| name == "generator.embedding.weight")
        .map(|(_, t)| t.size()[1])
        .with_context(|| format!("{} has no generator.embedding.weight", file.display()))?;
    let mut vs = nn::VarStore::new(device);
    let generator = Generator::new(&vs, z_size, upsample, precision);
    vs.load(&file).with_context(|| format!("{} does not hold this project's generator", file.display()))?;
    Ok((vs, generator))
}
