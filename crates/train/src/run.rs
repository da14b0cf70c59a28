//! A run on disk (layout: the `rundir` crate): creating a new one, or opening an existing one to
//! continue it. Everything that can refuse comes before anything is written.

use crate::config::Config;
use anyhow::{bail, ensure, Result};
use rundir::lock::{self, Lock};
use rundir::record::{self, RunRecord, Session};
use std::path::PathBuf;

/// The record as read back: settings are checked by `Config::from_record`, not by serde.
pub type Record = RunRecord<serde_json::Value>;

/// This process's session: the build it runs (commit, tch, libtorch), its device and command.
pub fn session(start_iteration: u64, device: tch::Device, judge_sha256: Option<String>) -> Session {
    Session {
        started_unix: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        start_iteration,
        device: format!("{device:?}"),
        tch: env!("TCH_VERSION").into(),
        libtorch: env!("LIBTORCH_VERSION").into(),
        git_commit: env!("GIT_COMMIT").into(),
        command: std::env::args().collect(),
        judge_sha256,
    }
}

/// The settings to continue the run at `given`'s place with: its record, each value checked as a
/// flag, with what `matches` (the command line) may change.
pub fn resumed_settings(given: &Config, matches: &clap::ArgMatches) -> Result<(Config, Record)> {
    let run_dir = given.run_dir();
    let record: Record = record::read(&run_dir)?;
    let recorded = Config::from_record(&record.config, &run_dir.join(rundir::CONFIG_FILE), &given.places)?;
    Ok((Config::resumed(&recorded, given, matches)?, record))
}

/// A new run: refuses a path that already holds anything, then creates the directory, takes its
/// lock and writes `config.json` (which also proves the runs directory writable before any
/// training starts).
pub fn create(cfg: &Config, session: Session) -> Result<Lock> {
    let dir = cfg.run_dir();
    if let Some(("run", enclosing)) = rundir::output::enclosing_run_or_sweep(&dir, false) {
        bail!(
            "{} would lie inside the run directory {}; choose another --runs-dir",
            dir.display(),
            enclosing.display()
        );
    }
    if dir.exists() {
        ensure!(dir.is_dir(), "{} exists and is not a directory; choose another --run name", dir.display());
        if rundir::is_run(&dir) {
            let hint = if rundir::checkpoint::list(&dir)?.is_empty() {
                " It has no checkpoint yet: --resume starts it over with its recorded settings."
            } else {
                ""
            };
            bail!(
                "{} already holds a run; nothing was changed. Continue it with --resume, or choose another --run name.{hint}",
                dir.display()
            );
        }
        ensure!(
            lock::never_created(&dir),
            "{} is not empty and holds no run; choose another --run name",
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create the run directory {}: {e}", dir.display()))?;
    let lock = Lock::take(&dir)?;
    rundir::failpoint("run-created");
    record::write(&dir, &RunRecord { config: cfg, sessions: vec![session] })?;
    Ok(lock)
}

/// An existing run, locked, with the checkpoint it continues from (None: killed before its first
/// one, so it starts over with its recorded settings).
pub struct Opened {
    pub lock: Lock,
    pub checkpoint: Option<(u64, PathBuf)>,
}

/// Locks the run of `cfg` and finds its newest checkpoint, verified; refuses a complete run and a
/// judge other than the one that scored it before.
pub fn open(cfg: &Config, record: &Record, judge_sha256: Option<&str>) -> Result<Opened> {
    let run_dir = cfg.run_dir();
    let lock = Lock::take(&run_dir)?;
    let checkpoint = crate::checkpoint::newest(&run_dir, cfg.experiment.as_published)?;
    let done = checkpoint.as_ref().map_or(0, |c| c.0);
    ensure!(
        done < cfg.cadence.iterations,
        "{} is complete at {done} iterations; raise --iterations to continue it",
        run_dir.display()
    );
    if let (Some(earlier), Some(now)) = (record.judge(), judge_sha256) {
        ensure!(
            earlier == now,
            "the run's earlier evaluations used the judge with SHA-256 {earlier}, but {} holds {now}: \
             their scores would not compare. Point --judge-dir at the earlier judge, or resume with --eval-every 0",
            cfg.places.judge_dir.display()
        );
    }
    Ok(Opened { lock, checkpoint })
}

/// Appends a session to an existing run's record, with the (possibly changed) settings.
pub fn add_session(record: Record, cfg: &Config, session: Session) -> Result<()> {
    let mut sessions = record.sessions;
    sessions.push(session);
    record::write(&cfg.run_dir(), &RunRecord { config: cfg, sessions })
}
