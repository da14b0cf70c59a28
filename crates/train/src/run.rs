//! A run on disk: `<runs-dir>/<run>/` with `config.json`, TensorBoard event files, `samples/`
//! and `checkpoints/<iterations done>/`. Checkpoints are written to a temporary directory and
//! renamed when complete, so a kill at any instant leaves the previous one intact.

use crate::{config::Config, RecentLosses, Trainer};
use anyhow::{bail, ensure, Context, Result};
use model::checkpoint::{self, CRITIC_FILE, GENERATOR_FILE};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const CONFIG_FILE: &str = "config.json";
const STATE_FILE: &str = "state.json";
const RMSPROP_G_FILE: &str = "rmsprop_generator.safetensors";
const RMSPROP_D_FILE: &str = "rmsprop_critic.safetensors";
/// Checkpoints kept; older ones are pruned.
pub const KEEP_CHECKPOINTS: usize = 3;

/// `config.json`: the settings, and one entry per session that trained the run.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct RunRecord {
    pub config: Config,
    pub sessions: Vec<Session>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Session {
    pub started_unix: u64,
    pub start_iteration: u64,
    pub device: String,
    pub tch: String,
    pub libtorch: String,
    pub git_commit: String,
    pub command: Vec<String>,
}

impl Session {
    pub fn now(start_iteration: u64, device: tch::Device) -> Session {
        let git = std::process::Command::new("git").args(["describe", "--always", "--dirty", "--abbrev=40"]).output();
        Session {
            started_unix: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
            start_iteration,
            device: format!("{device:?}"),
            tch: "0.26.0".into(),
            libtorch: env!("LIBTORCH_VERSION").into(),
            git_commit: git
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_else(|| "unknown".into()),
            command: std::env::args().collect(),
        }
    }
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let tmp = path.with_extension("json.partial");
    std::fs::write(&tmp, serde_json::to_string_pretty(value)? + "\n")
        .and_then(|_| std::fs::rename(&tmp, path))
        .with_context(|| format!("cannot write {}", path.display()))
}

pub fn read_record(run_dir: &Path) -> Result<RunRecord> {
    let path = run_dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a run record", path.display()))
}

/// A new run: refuses a directory that already holds anything, then writes `config.json`
/// (which also proves the runs directory writable before any training starts).
pub fn create(cfg: &Config, session: Session) -> Result<RunRecord> {
    let dir = cfg.run_dir();
    if dir.exists() && std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!(
            "{} already holds a run; nothing was changed. Continue it with --resume, or choose another --run name.",
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create the run directory {}", dir.display()))?;
    let record = RunRecord { config: cfg.clone(), sessions: vec![session] };
    write_json(&dir.join(CONFIG_FILE), &record)?;
    Ok(record)
}

/// Appends a session to an existing run's record, with the (possibly changed) settings.
pub fn add_session(record: &mut RunRecord, cfg: &Config, session: Session) -> Result<()> {
    record.config = cfg.clone();
    record.sessions.push(session);
    write_json(&cfg.run_dir().join(CONFIG_FILE), record)
}

#[derive(Serialize, Deserialize)]
struct State {
    iterations_done: u64,
    seed: u64,
    /// The RNG needs no state: every iteration reseeds from (seed, iteration).
    rng: String,
    recent: RecentLosses,
}

/// Writes the checkpoint after `done` iterations, then prunes old ones. Returns its directory.
pub fn save_checkpoint(t: &Trainer, done: u64, recent: &RecentLosses) -> Result<PathBuf> {
    let root = checkpoint::dir(&t.cfg.run_dir());
    let dest = root.join(done.to_string());
    if dest.exists() {
        return Ok(dest); // the same iterations from the same seed: already saved
    }
    let tmp = root.join(format!(".partial-{done}-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let write = || -> Result<()> {
        t.vs_g.save(tmp.join(GENERATOR_FILE))?;
        t.vs_d.save(tmp.join(CRITIC_FILE))?;
        t.opt_g.save(&tmp.join(RMSPROP_G_FILE))?;
        t.opt_d.save(&tmp.join(RMSPROP_D_FILE))?;
        let state = State {
            iterations_done: done,
            seed: t.cfg.seed,
            rng: "derived from (seed, iteration)".into(),
            recent: recent.clone(),
        };
        write_json(&tmp.join(STATE_FILE), &state)?;
        std::fs::rename(&tmp, &dest)?;
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_dir_all(&tmp);
        e.context(format!("cannot write checkpoint {}", dest.display()))
    })?;
    for (_, old) in checkpoint::list(&t.cfg.run_dir())?.iter().rev().skip(KEEP_CHECKPOINTS) {
        std::fs::remove_dir_all(old).with_context(|| format!("cannot prune {}", old.display()))?;
    }
    Ok(dest)
}

/// Restores networks and optimizers from a checkpoint; returns (iterations done, recent losses).
pub fn load_checkpoint(t: &mut Trainer, dir: &Path) -> Result<(u64, RecentLosses)> {
    t.vs_g
        .load(dir.join(GENERATOR_FILE))
        .with_context(|| format!("cannot load {}", dir.join(GENERATOR_FILE).display()))?;
    t.vs_d.load(dir.join(CRITIC_FILE)).with_context(|| format!("cannot load {}", dir.join(CRITIC_FILE).display()))?;
    t.opt_g.load(&dir.join(RMSPROP_G_FILE))?;
    t.opt_d.load(&dir.join(RMSPROP_D_FILE))?;
    let path = dir.join(STATE_FILE);
    let state: State = serde_json::from_str(
        &std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?,
    )
    .with_context(|| format!("{} is not a checkpoint state", path.display()))?;
    ensure!(
        state.seed == t.cfg.seed,
        "{} was trained with seed {}, the run says {}",
        path.display(),
        state.seed,
        t.cfg.seed
    );
    Ok((state.iterations_done, state.recent))
}
