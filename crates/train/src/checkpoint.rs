//! A trainer's state in a checkpoint directory (layout: `rundir::checkpoint`): both networks, the
//! RMSprop states and `state.json`. Loading refuses a checkpoint that is damaged, does not fit the
//! configured model, holds non-finite values or says it is another one, naming the newest intact
//! checkpoint.

use crate::{RecentLosses, Trainer};
use anyhow::{bail, ensure, Context, Result};
use rundir::checkpoint::{
    self as layout, Seal, CRITIC_FILE, GENERATOR_FILE, RMSPROP_DG_FILE, RMSPROP_D_FILE, RMSPROP_G_FILE, STATE_FILE,
};
use rundir::failpoint;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    iterations_done: u64,
    seed: u64,
    /// The RNG needs no state: every iteration reseeds from (seed, iteration).
    rng: String,
    recent: RecentLosses,
}

/// The files a checkpoint of `t` holds.
pub fn required_files(as_published: bool) -> Vec<&'static str> {
    let mut files = vec![GENERATOR_FILE, CRITIC_FILE, RMSPROP_G_FILE, RMSPROP_D_FILE, STATE_FILE];
    if as_published {
        files.push(RMSPROP_DG_FILE);
    }
    files
}

/// Writes the checkpoint after `done` iterations of the run in `run_dir`, then prunes old ones
/// (keeping those after a multiple of `keep_every`). Returns its directory.
pub fn save(t: &Trainer, run_dir: &Path, done: u64, recent: &RecentLosses, keep_every: u64) -> Result<PathBuf> {
    let dest = layout::write(run_dir, done, |tmp| {
        t.vs_g.save(tmp.join(GENERATOR_FILE))?;
        failpoint("checkpoint-write");
        t.vs_d.save(tmp.join(CRITIC_FILE))?;
        t.opt_g.save(&tmp.join(RMSPROP_G_FILE))?;
        t.opt_d.save(&tmp.join(RMSPROP_D_FILE))?;
        if let Some(opt) = &t.opt_dg_critic {
            opt.save(&tmp.join(RMSPROP_DG_FILE))?;
        }
        let state = State {
            iterations_done: done,
            seed: t.experiment.seed,
            rng: "derived from (seed, iteration)".into(),
            recent: recent.clone(),
        };
        rundir::atomic::write_json(&tmp.join(STATE_FILE), &state)
    })?;
    layout::prune(run_dir, keep_every)?;
    Ok(dest)
}

/// The newest checkpoint of the run in `run_dir` that training can continue from, verified
/// (None: the run has none yet). A checkpoint that fails is refused, not skipped.
pub fn newest(run_dir: &Path, as_published: bool) -> Result<Option<(u64, PathBuf)>> {
    if layout::list(run_dir)?.is_empty() {
        return Ok(None);
    }
    let (done, dir, seal) = layout::find(run_dir, None, &required_files(as_published))?;
    if seal == Seal::Unsealed {
        eprintln!(
            "note: {} was written before checkpoints carried checksums; its files are checked for shape and \
             finiteness only",
            dir.display()
        );
    }
    Ok(Some((done, dir)))
}

/// Restores networks and optimizers from the verified checkpoint `dir` after `done` iterations;
/// returns the recent losses it recorded.
pub fn load(t: &mut Trainer, run_dir: &Path, dir: &Path, done: u64) -> Result<RecentLosses> {
    let loaded = (|| -> Result<RecentLosses> {
        model::weights::load_var_store(&t.vs_g, &dir.join(GENERATOR_FILE))?;
        model::weights::load_var_store(&t.vs_d, &dir.join(CRITIC_FILE))?;
        t.opt_g.load(&dir.join(RMSPROP_G_FILE))?;
        t.opt_d.load(&dir.join(RMSPROP_D_FILE))?;
        if let Some(opt) = &mut t.opt_dg_critic {
            opt.load(&dir.join(RMSPROP_DG_FILE))?;
        }
        let path = dir.join(STATE_FILE);
        let state: State = serde_json::from_str(&rundir::record::read_small(&path, 64 * 1024)?)
            .with_context(|| format!("{} is not a checkpoint state", path.display()))?;
        ensure!(
            state.iterations_done == done,
            "{} says {} iterations done, but it is the checkpoint after {done}",
            path.display(),
            state.iterations_done
        );
        ensure!(
            state.seed == t.experiment.seed,
            "{} was trained with seed {}, the run says {}",
            path.display(),
            state.seed,
            t.experiment.seed
        );
        ensure!(state.recent.is_sane(), "{}: its recent losses are not finite", path.display());
        Ok(state.recent)
    })();
    match loaded {
        Ok(recent) => Ok(recent),
        Err(e) => bail!(
            "{e:#}. Checkpoint {} cannot be used; {}",
            dir.display(),
            layout::intact_hint(run_dir, dir, &required_files(t.opt_dg_critic.is_some()))
        ),
    }
}
