//! A run on disk: `<runs-dir>/<run>/` with `config.json`, TensorBoard event files, `samples/`
//! and `checkpoints/<iterations done>/`. Checkpoints are written to a temporary directory and
//! renamed when complete, so a kill at any instant leaves the previous one intact. A process
//! training a run holds the lock on `<run>/.lock`, so two never train one run at once, and the
//! temporary directories it finds on taking the lock are leftovers of killed processes.

use crate::{config::Config, RecentLosses, Trainer};
use anyhow::{bail, ensure, Context, Result};
use model::checkpoint::{self, CRITIC_FILE, GENERATOR_FILE};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const CONFIG_FILE: &str = "config.json";
const STATE_FILE: &str = "state.json";
const RMSPROP_G_FILE: &str = "rmsprop_generator.safetensors";
const RMSPROP_D_FILE: &str = "rmsprop_critic.safetensors";
/// `--as-published` only: the generator step's RMSprop state for the critic's parameters.
const RMSPROP_DG_FILE: &str = "rmsprop_generator_step_critic.safetensors";
const LOCK_FILE: &str = ".lock";
const PARTIAL_PREFIX: &str = ".partial-";
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
    /// SHA-256 of the judge's weights when this session scored the run (--eval-every).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge_sha256: Option<String>,
}

impl Session {
    pub fn now(start_iteration: u64, device: tch::Device) -> Session {
        let git = std::process::Command::new("git").args(["describe", "--always", "--dirty", "--abbrev=40"]).output();
        Session {
            started_unix: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
            start_iteration,
            device: format!("{device:?}"),
            tch: env!("TCH_VERSION").into(),
            libtorch: env!("LIBTORCH_VERSION").into(),
            git_commit: git
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_else(|| "unknown".into()),
            command: std::env::args().collect(),
            judge_sha256: None,
        }
    }
}

/// Where `write_json` writes `path` before renaming it into place.
fn partial_json(path: &Path) -> PathBuf {
    path.with_extension("json.partial")
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let tmp = partial_json(path);
    let written =
        std::fs::write(&tmp, serde_json::to_string_pretty(value)? + "\n").and_then(|_| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}

pub fn read_record(run_dir: &Path) -> Result<RunRecord> {
    let path = run_dir.join(CONFIG_FILE);
    ensure!(
        run_dir.is_dir(),
        "{} is not a run directory ({}); start the run without --resume",
        run_dir.display(),
        if run_dir.exists() { "it is not a directory" } else { "it does not exist" }
    );
    ensure!(path.is_file(), "{} holds no run (no {CONFIG_FILE}); start the run without --resume", run_dir.display());
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a run record", path.display()))
}

/// Whether `dir` holds nothing, or only what a process killed while creating the run left there
/// (its lock and a half-written config), so that a fresh start is no dead end.
fn never_created(dir: &Path) -> bool {
    let partial = partial_json(&dir.join(CONFIG_FILE));
    std::fs::read_dir(dir)
        .map(|d| d.flatten().all(|e| e.file_name() == LOCK_FILE || e.path() == partial))
        .unwrap_or(false)
}

/// A new run: refuses a path that already holds anything, then creates the directory, takes its
/// lock and writes `config.json` (which also proves the runs directory writable before any
/// training starts).
pub fn create(cfg: &Config, session: Session) -> Result<(RunRecord, Lock)> {
    let dir = cfg.run_dir();
    if dir.exists() {
        ensure!(dir.is_dir(), "{} exists and is not a directory; choose another --run name", dir.display());
        if dir.join(CONFIG_FILE).exists() {
            let hint = if checkpoint::list(&dir)?.is_empty() {
                " It has no checkpoint yet: --resume starts it over with its recorded settings."
            } else {
                ""
            };
            bail!(
                "{} already holds a run; nothing was changed. Continue it with --resume, or choose another --run name.{hint}",
                dir.display()
            );
        }
        ensure!(never_created(&dir), "{} is not empty and holds no run; choose another --run name", dir.display());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create the run directory {}", dir.display()))?;
    let lock = Lock::take(&dir)?;
    failpoint("run-created");
    let record = RunRecord { config: cfg.clone(), sessions: vec![session] };
    write_json(&dir.join(CONFIG_FILE), &record)?;
    Ok((record, lock))
}

/// The lock on a run directory, held while a process trains the run (released on exit, also
/// when the process is killed).
pub struct Lock {
    _file: std::fs::File,
}

impl Lock {
    /// Takes the run's lock, then removes what killed processes left half-written.
    pub fn take(run_dir: &Path) -> Result<Lock> {
        let path = run_dir.join(LOCK_FILE);
        let file = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                bail!("another process is training {} now; wait for it or stop it first", run_dir.display())
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
        remove_partials(run_dir)?;
        Ok(Lock { _file: file })
    }
}

/// Removes the temporary checkpoint directories and files of processes that were killed while
/// writing them (only called with the run's lock held, so no live process is writing them).
fn remove_partials(run_dir: &Path) -> Result<()> {
    for dir in [checkpoint::dir(run_dir), run_dir.join("samples"), run_dir.to_path_buf()] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.starts_with(PARTIAL_PREFIX) || name.ends_with(".partial")) {
                continue;
            }
            let path = entry.path();
            let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            removed.with_context(|| format!("cannot remove the leftover {}", path.display()))?;
        }
    }
    Ok(())
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
    let tmp = root.join(format!("{PARTIAL_PREFIX}{done}-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let write = || -> Result<()> {
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
            seed: t.cfg.seed,
            rng: "derived from (seed, iteration)".into(),
            recent: recent.clone(),
        };
        write_json(&tmp.join(STATE_FILE), &state)?;
        std::fs::rename(&tmp, &dest)?;
        failpoint("checkpoint-renamed");
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_dir_all(&tmp);
        e.context(format!("cannot write checkpoint {}", dest.display()))
    })?;
    // Pruning renames first, so that a numbered directory is never half deleted; a kill between
    // the two steps leaves a temporary name, removed when the run is next locked.
    for (done, old) in checkpoint::list(&t.cfg.run_dir())?.iter().rev().skip(KEEP_CHECKPOINTS) {
        let doomed = root.join(format!("{PARTIAL_PREFIX}pruned-{done}-{}", std::process::id()));
        std::fs::rename(old, &doomed).with_context(|| format!("cannot prune {}", old.display()))?;
        failpoint("pruning");
        std::fs::remove_dir_all(&doomed).with_context(|| format!("cannot remove {}", doomed.display()))?;
    }
    Ok(dest)
}

/// A test hook: with `WGAN_FAILPOINT=<name>:<k>`, the process ends abruptly (abort: no cleanup, as
/// under SIGKILL) the k-th time it reaches the point `name`, so that tests can kill it in the
/// middle of a checkpoint write or of pruning, which a timed kill rarely hits.
pub fn failpoint(name: &str) {
    static REACHED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let Ok(spec) = std::env::var("WGAN_FAILPOINT") else { return };
    let Some((point, k)) = spec.split_once(':') else { return };
    if point == name && REACHED.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == k.parse().unwrap_or(0) {
        std::process::abort();
    }
}

/// Restores networks and optimizers from a checkpoint; returns (iterations done, recent losses).
pub fn load_checkpoint(t: &mut Trainer, dir: &Path) -> Result<(u64, RecentLosses)> {
    t.vs_g
        .load(dir.join(GENERATOR_FILE))
        .with_context(|| format!("cannot load {}", dir.join(GENERATOR_FILE).display()))?;
    t.vs_d.load(dir.join(CRITIC_FILE)).with_context(|| format!("cannot load {}", dir.join(CRITIC_FILE).display()))?;
    t.opt_g.load(&dir.join(RMSPROP_G_FILE))?;
    t.opt_d.load(&dir.join(RMSPROP_D_FILE))?;
    if let Some(opt) = &mut t.opt_dg_critic {
        opt.load(&dir.join(RMSPROP_DG_FILE))?;
    }
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
