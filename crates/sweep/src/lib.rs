//! Sweeps: a grid of training flags expanded into named runs under `<runs-dir>/<sweep>/`, run one
//! after another here (`local`) or as one Slurm array job (`slurm`), where every task starts its
//! run, or resumes it bit-exactly when it exists (a preempted, requeued or resubmitted task simply
//! continues). The plan is `<runs-dir>/<sweep>/sweep.json`.

use anyhow::{bail, ensure, Context, Result};
use clap::{Args, FromArgMatches};
use logging::tensorboard::{read_dir, Record};
use rundir::tags;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use train::config::Config;

pub const PLAN_FILE: &str = rundir::SWEEP_PLAN_FILE;
pub const JOB_SCRIPT: &str = "job.sh";
/// `sweep compare`'s table, rewritten each time.
pub const COMPARE_FILE: &str = "compare.csv";
/// Flags a sweep sets itself for every run.
const OWNED_FLAGS: [&str; 3] = ["run", "runs-dir", "resume"];
/// The most runs one sweep may plan (a grid's size is checked before it is expanded).
pub const MAX_RUNS: usize = 1000;
/// A plan file is a few kilobytes per run.
const MAX_PLAN_BYTES: u64 = 64 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// One run after another on this machine.
    Local,
    /// One Slurm array job, a task per run.
    Slurm,
}

/// What `sbatch` is told besides the array itself. Every value is checked against what Slurm
/// accepts before it is written into a job script (a plan read back from disk too).
#[derive(Clone, Debug, Default, Serialize, Deserialize, Args)]
pub struct SlurmOptions {
    /// Slurm partition(s) (sbatch --partition): letters, digits, '_', '-', '.', comma-separated.
    #[arg(long, value_parser = slurm_name)]
    pub partition: Option<String>,
    /// Time limit per task (sbatch --time), e.g. 24:00:00 or 2-00:00:00.
    #[arg(long, value_parser = slurm_time)]
    pub time: Option<String>,
    /// Account to charge (sbatch --account): letters, digits, '_', '-', '.'.
    #[arg(long, value_parser = slurm_name)]
    pub account: Option<String>,
    /// CPUs per task (sbatch --cpus-per-task).
    #[arg(long)]
    pub cpus_per_task: Option<u32>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PlannedRun {
    pub name: String,
    /// The swept flags' values of this run, by flag name.
    pub values: BTreeMap<String, String>,
    /// The full `train` flags of this run, without --run and --runs-dir.
    pub flags: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Submission {
    pub job_id: String,
    pub indices: Vec<usize>,
    pub submitted_unix: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    pub name: String,
    /// The swept flags and their values, in the order given.
    pub grid: Vec<(String, Vec<String>)>,
    /// Flags every run shares.
    pub fixed: Vec<String>,
    pub runs: Vec<PlannedRun>,
    pub engine: Engine,
    pub slurm: SlurmOptions,
    /// Where tasks run (relative paths in the flags, such as --data-dir, are relative to it).
    pub workdir: PathBuf,
    #[serde(default)]
    pub submissions: Vec<Submission>,
}

/// A partition or account name: nothing that could end a `#SBATCH` line or start another.
pub fn slurm_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-.,".contains(c));
    ok.then(|| s.to_string()).ok_or_else(|| "must be letters, digits, '_', '-', '.' or ',' (at most 128)".into())
}

/// A Slurm time limit: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS.
pub fn slurm_time(s: &str) -> Result<String, String> {
    let (days, clock) = s.split_once('-').map_or((None, s), |(d, c)| (Some(d), c));
    let number = |p: &str| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = clock.split(':').collect();
    let ok = days.is_none_or(number) && parts.len() <= 3 && parts.iter().all(|p| number(p));
    ok.then(|| s.to_string()).ok_or_else(|| "must be a Slurm time: minutes, HH:MM:SS or D-HH:MM:SS".into())
}

/// `seed=1,2,3` -> ("seed", ["1", "2", "3"]).
pub fn parse_grid(spec: &str) -> Result<(String, Vec<String>), String> {
    let (key, values) = spec.split_once('=').ok_or("a grid is FLAG=V1,V2,... (e.g. seed=1,2,3)")?;
    let key = key.trim().trim_start_matches("--").to_string();
    let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
    if key.is_empty() || values.iter().any(String::is_empty) {
        return Err(format!("'{spec}': a grid is FLAG=V1,V2,... with no empty value"));
    }
    Ok((key, values))
}

/// Parses `train` flags as `train` would, so a sweep is refused before anything is submitted.
fn parse_train_flags(flags: &[String]) -> Result<Config> {
    let cmd = cli::DeviceArgs::augment_args(train::config::parser());
    let matches = cmd.try_get_matches_from(flags).map_err(|e| anyhow::anyhow!("{}", e.render().to_string().trim()))?;
    Ok(Config::from_arg_matches(&matches)?)
}

fn flag_names(flags: &[String]) -> Vec<String> {
    flags.iter().filter_map(|f| f.strip_prefix("--")).map(|f| f.split('=').next().unwrap_or(f).to_string()).collect()
}

impl Plan {
    /// Expands `grid` (the cartesian product, first flag outermost) into runs named
    /// `<prefix>-<flag><value>-...`, each checked by train's own flag parser.
    pub fn new(
        name: &str,
        prefix: &str,
        grid: Vec<(String, Vec<String>)>,
        fixed: Vec<String>,
        engine: Engine,
        slurm: SlurmOptions,
    ) -> Result<Plan> {
        ensure!(!grid.is_empty(), "a sweep needs at least one --grid FLAG=V1,V2,...");
        for owned in OWNED_FLAGS {
            ensure!(
                !flag_names(&fixed).iter().any(|f| f == owned) && grid.iter().all(|(k, _)| k != owned),
                "a sweep sets --{owned} itself; leave it out of the flags and the grid"
            );
        }
        for (i, (key, _)) in grid.iter().enumerate() {
            ensure!(!grid[..i].iter().any(|(k, _)| k == key), "--grid {key} is given twice");
            ensure!(!flag_names(&fixed).contains(key), "--{key} is both swept and fixed");
        }
        ensure!(
            engine != Engine::Slurm || grid.iter().all(|(k, _)| k != "gpu"),
            "Slurm gives each task one GPU of its own (--gres=gpu:1), which it sees as device 0: pass --gpu 0 \
             after --, and leave gpu out of the grid"
        );
        let size = grid.iter().try_fold(1usize, |n, (_, values)| n.checked_mul(values.len()));
        match size {
            Some(n) if n <= MAX_RUNS => {}
            _ => bail!(
                "the grid has {} runs; a sweep plans at most {MAX_RUNS}: split it into several sweeps",
                size.map_or("too many".to_string(), |n| n.to_string())
            ),
        }
        let mut combos: Vec<Vec<(String, String)>> = vec![vec![]];
        for (key, values) in &grid {
            combos = combos
                .into_iter()
                .flat_map(|c| values.iter().map(move |v| [c.clone(), vec![(key.clone(), v.clone())]].concat()))
                .collect();
        }
        let mut runs = Vec::new();
        let mut computed: Vec<(String, serde_json::Value)> = Vec::new();
        for combo in combos {
            let run_name: String = std::iter::once(prefix.to_string())
                .chain(combo.iter().map(|(k, v)| format!("{k}{v}")))
                .collect::<Vec<_>>()
                .join("-");
            rundir::check_run_name(&run_name).map_err(|e| anyhow::anyhow!("run name '{run_name}': {e}"))?;
            let mut flags = fixed.clone();
            for (k, v) in &combo {
                flags.extend([format!("--{k}"), v.clone()]);
            }
            let settings = parse_train_flags(&[flags.clone(), vec!["--run".into(), run_name.clone()]].concat())
                .with_context(|| format!("run {run_name}"))?;
            ensure!(!runs.iter().any(|r: &PlannedRun| r.name == run_name), "two runs would be named {run_name}");
            let what = serde_json::to_value((&settings.experiment, &settings.cadence, &settings.arithmetic))?;
            if let Some((twin, _)) = computed.iter().find(|(_, w)| *w == what) {
                bail!("runs {twin} and {run_name} would train the same thing (the same settings, spelled differently); drop one value");
            }
            computed.push((run_name.clone(), what));
            runs.push(PlannedRun { name: run_name, values: combo.into_iter().collect(), flags });
        }
        let workdir = std::env::current_dir().context("cannot read the current directory")?;
        Ok(Plan { name: name.to_string(), grid, fixed, runs, engine, slurm, workdir, submissions: Vec::new() })
    }

    /// Whether the runs ask for a GPU (`--gpu N` among the fixed or the swept flags).
    pub fn uses_gpu(&self) -> bool {
        flag_names(&self.fixed).iter().any(|f| f == "gpu") || self.grid.iter().any(|(k, _)| k == "gpu")
    }

    /// Checks what a plan read back from disk will put into paths and job scripts: names plain,
    /// Slurm values as Slurm takes them, at most `MAX_RUNS` runs.
    fn check(&self, path: &Path) -> Result<()> {
        let refuse = |what: String| anyhow::anyhow!("{} is not a usable sweep plan: {what}", path.display());
        rundir::check_run_name(&self.name).map_err(|e| refuse(format!("name '{}': {e}", self.name)))?;
        ensure!(self.runs.len() <= MAX_RUNS, refuse(format!("{} runs, more than {MAX_RUNS}", self.runs.len())));
        for run in &self.runs {
            rundir::check_run_name(&run.name).map_err(|e| refuse(format!("run name '{}': {e}", run.name)))?;
        }
        let o = &self.slurm;
        for (key, value, check) in [
            ("partition", &o.partition, slurm_name as fn(&str) -> Result<String, String>),
            ("account", &o.account, slurm_name),
            ("time", &o.time, slurm_time),
        ] {
            if let Some(v) = value {
                check(v).map_err(|e| refuse(format!("{key} {v:?} {e}")))?;
            }
        }
        Ok(())
    }

    pub fn save(&self, sweep_dir: &Path) -> Result<()> {
        std::fs::create_dir_all(sweep_dir).with_context(|| format!("cannot create {}", sweep_dir.display()))?;
        rundir::atomic::write_json(&sweep_dir.join(PLAN_FILE), self)
    }

    pub fn load(sweep_dir: &Path) -> Result<Plan> {
        let path = sweep_dir.join(PLAN_FILE);
        ensure!(path.is_file(), "{} holds no sweep (no {PLAN_FILE})", sweep_dir.display());
        let text = rundir::record::read_small(&path, MAX_PLAN_BYTES)?;
        let plan: Plan =
            serde_json::from_str(&text).with_context(|| format!("{} is not a sweep plan", path.display()))?;
        plan.check(&path)?;
        Ok(plan)
    }

    /// The array job script: each task runs `sweep task` for its index, which starts or resumes
    /// that run. `--requeue` lets Slurm put a preempted or failed-node task back in the queue.
    pub fn job_script(&self, sweep_dir: &Path, sweep_bin: &Path, runs_dir: &Path) -> String {
        let mut lines = vec![
            "#!/usr/bin/env bash".to_string(),
            format!("#SBATCH --job-name=wgan-{}", self.name),
            "#SBATCH --requeue".into(),
            format!("#SBATCH --output={}/slurm/%A_%a.out", sweep_dir.display()),
        ];
        let o = &self.slurm;
        for (flag, value) in [("partition", &o.partition), ("time", &o.time), ("account", &o.account)] {
            if let Some(v) = value {
                lines.push(format!("#SBATCH --{flag}={v}"));
            }
        }
        if let Some(c) = o.cpus_per_task {
            lines.push(format!("#SBATCH --cpus-per-task={c}"));
        }
        if self.uses_gpu() {
            lines.push("#SBATCH --gres=gpu:1".into());
        }
        lines.extend([
            "set -euo pipefail".into(),
            format!("cd {}", shell_quote(&self.workdir.display().to_string())),
            format!(
                "exec {} task --runs-dir {} --name {} --index \"$SLURM_ARRAY_TASK_ID\"",
                shell_quote(&sweep_bin.display().to_string()),
                shell_quote(&runs_dir.display().to_string()),
                shell_quote(&self.name)
            ),
        ]);
        lines.join("\n") + "\n"
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The `train` command of run `index`: start it, or resume it when its directory holds a run.
/// None when the run is complete.
pub fn task_command(
    plan: &Plan,
    sweep_dir: &Path,
    index: usize,
    train_bin: &Path,
) -> Result<Option<std::process::Command>> {
    let run = plan.runs.get(index).with_context(|| format!("sweep {} has no run {index}", plan.name))?;
    let mut cmd = std::process::Command::new(train_bin);
    cmd.arg("--runs-dir").arg(sweep_dir).args(["--run", &run.name]);
    let run_dir = sweep_dir.join(&run.name);
    if rundir::is_run(&run_dir) {
        let progress = progress_of(&run_dir)?;
        if progress.done >= progress.total {
            return Ok(None);
        }
        // Device flags are not settings of the run: the task passes them again.
        let device: Vec<String> = device_flags(&run.flags);
        cmd.arg("--resume").args(device);
    } else {
        cmd.args(&run.flags);
    }
    Ok(Some(cmd))
}

fn device_flags(flags: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = flags.iter();
    while let Some(f) = it.next() {
        if f == "--cpu" {
            out.push(f.clone());
        } else if f == "--gpu" {
            out.push(f.clone());
            out.extend(it.next().cloned());
        } else if f.starts_with("--gpu=") {
            out.push(f.clone());
        }
    }
    out
}

/// Iterations done (the newest checkpoint) and planned.
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

pub fn progress_of(run_dir: &Path) -> Result<Progress> {
    let record: train::run::Record = rundir::record::read(run_dir)?;
    let iterations = record.config.get("iterations").and_then(|v| v.as_u64());
    let total = iterations
        .with_context(|| format!("{}: no valid \"iterations\"", run_dir.join(rundir::CONFIG_FILE).display()))?;
    let done = rundir::checkpoint::list(run_dir)?.last().map_or(0, |c| c.0);
    Ok(Progress { done, total })
}

/// Submits the runs `indices` as one array job; returns the job id.
pub fn submit(
    plan: &mut Plan,
    sweep_dir: &Path,
    indices: &[usize],
    sweep_bin: &Path,
    runs_dir: &Path,
) -> Result<String> {
    ensure!(!indices.is_empty(), "nothing to submit: every run of {} is complete", plan.name);
    std::fs::create_dir_all(sweep_dir.join("slurm"))?;
    let script = sweep_dir.join(JOB_SCRIPT);
    std::fs::write(&script, plan.job_script(sweep_dir, sweep_bin, runs_dir))
        .with_context(|| format!("cannot write {}", script.display()))?;
    let array: Vec<String> = indices.iter().map(usize::to_string).collect();
    let out = std::process::Command::new("sbatch")
        .arg("--parsable")
        .arg(format!("--array={}", array.join(",")))
        .arg(&script)
        .output()
        .context("cannot run sbatch (is Slurm installed, and SLURM_CONF set if the cluster needs it?)")?;
    ensure!(
        out.status.success(),
        "sbatch failed: {}\n(the plan is kept: once Slurm answers here, e.g. with SLURM_CONF set, `sweep submit --name {}` submits it)",
        String::from_utf8_lossy(&out.stderr).trim(),
        plan.name
    );
    let job_id = String::from_utf8_lossy(&out.stdout).trim().split(';').next().unwrap_or("").to_string();
    ensure!(!job_id.is_empty(), "sbatch printed no job id");
    let submitted_unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    plan.submissions.push(Submission { job_id: job_id.clone(), indices: indices.to_vec(), submitted_unix });
    plan.save(sweep_dir)?;
    Ok(job_id)
}

/// Slurm's view of the sweep's array tasks: run index -> state (PENDING, RUNNING, ...), for the
/// tasks still in its queue. Later submissions override earlier ones.
pub fn slurm_states(plan: &Plan) -> Result<BTreeMap<usize, String>> {
    let mut states = BTreeMap::new();
    for submission in &plan.submissions {
        let out = std::process::Command::new("squeue")
            .args(["--noheader", "--array", "--jobs", &submission.job_id, "--format", "%K %T"])
            .output()
            .context("cannot run squeue")?;
        // A job Slurm has forgotten is an error for squeue; it simply has no tasks in the queue.
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some((index, state)) = line.split_once(' ') {
                if let Ok(i) = index.trim().parse::<usize>() {
                    states.insert(i, state.trim().to_string());
                }
            }
        }
    }
    Ok(states)
}

/// One run's line of `sweep status`.
pub struct RunStatus {
    pub name: String,
    pub done: u64,
    pub total: u64,
    pub state: String,
    pub last_d_loss: Option<f64>,
}

pub fn status(plan: &Plan, sweep_dir: &Path) -> Result<Vec<RunStatus>> {
    let queued = if plan.engine == Engine::Slurm { slurm_states(plan)? } else { BTreeMap::new() };
    let submitted: std::collections::BTreeSet<usize> =
        plan.submissions.iter().flat_map(|s| s.indices.iter().copied()).collect();
    plan.runs
        .iter()
        .enumerate()
        .map(|(i, run)| {
            let dir = sweep_dir.join(&run.name);
            let total = parse_train_flags(&[run.flags.clone(), vec!["--run".into(), run.name.clone()]].concat())?
                .cadence
                .iterations;
            let started = rundir::is_run(&dir);
            let progress = if started { progress_of(&dir)? } else { Progress { done: 0, total } };
            let state = if let Some(s) = queued.get(&i) {
                match s.as_str() {
                    "PENDING" => "queued".into(),
                    "RUNNING" => "running".into(),
                    other => other.to_lowercase(),
                }
            } else if progress.done >= progress.total {
                "done".into()
            } else if started && rundir::lock::is_held(&dir) {
                "running".into()
            } else if started || submitted.contains(&i) {
                "failed".into()
            } else {
                "not started".into()
            };
            Ok(RunStatus {
                name: run.name.clone(),
                done: progress.done,
                total: progress.total,
                state,
                last_d_loss: last(&dir, tags::D_LOSS)?,
            })
        })
        .collect()
}

/// The last logged value of `tag` in a run's event files.
fn last(run_dir: &Path, tag: &str) -> Result<Option<f64>> {
    Ok(series(run_dir, tag)?.last().map(|p| p.1))
}

/// The values of `tag` a run has logged, in step order (none for a run not started).
fn series(run_dir: &Path, tag: &str) -> Result<Vec<(u64, f64)>> {
    if !run_dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut points: Vec<(u64, f64)> = read_dir(run_dir)?
        .into_iter()
        .filter_map(|r| match r {
            Record::Scalar { tag: t, step, value } if t == tag => Some((step, value as f64)),
            _ => None,
        })
        .collect();
    points.sort_by_key(|p| p.0);
    Ok(points)
}

/// One row of `sweep compare`.
pub struct Comparison {
    pub name: String,
    pub values: BTreeMap<String, String>,
    pub done: u64,
    pub final_d_loss: Option<f64>,
    pub final_accuracy: Option<f64>,
    pub best_accuracy: Option<f64>,
    pub final_fid: Option<f64>,
    pub best_fid: Option<f64>,
    pub judge: Option<String>,
}

pub fn compare(plan: &Plan, sweep_dir: &Path) -> Result<Vec<Comparison>> {
    plan.runs
        .iter()
        .map(|run| {
            let dir = sweep_dir.join(&run.name);
            let started = rundir::is_run(&dir);
            let done = if started { progress_of(&dir)?.done } else { 0 };
            let acc = series(&dir, tags::CONDITIONAL_ACCURACY)?;
            let fid = series(&dir, tags::FID)?;
            let judge = started
                .then(|| rundir::record::read::<serde::de::IgnoredAny>(&dir).ok())
                .flatten()
                .and_then(|r| r.judge().map(str::to_string));
            Ok(Comparison {
                name: run.name.clone(),
                values: run.values.clone(),
                done,
                final_d_loss: last(&dir, tags::D_LOSS)?,
                final_accuracy: acc.last().map(|p| p.1),
                best_accuracy: acc.iter().map(|p| p.1).reduce(f64::max),
                final_fid: fid.last().map(|p| p.1),
                best_fid: fid.iter().map(|p| p.1).reduce(f64::min),
                judge,
            })
        })
        .collect()
}

/// The comparison as CSV: the swept flags, then the figures (empty where not logged).
pub fn comparison_csv(plan: &Plan, rows: &[Comparison]) -> String {
    let keys: Vec<&String> = plan.grid.iter().map(|(k, _)| k).collect();
    let mut out = String::from("run");
    for k in &keys {
        out += &format!(",{k}");
    }
    out += ",iterations,final_d_loss,final_conditional_accuracy,best_conditional_accuracy,final_fid,best_fid,judge_sha256\n";
    let num = |v: Option<f64>| v.map(|x| format!("{x}")).unwrap_or_default();
    for r in rows {
        out += &r.name;
        for k in &keys {
            out += &format!(",{}", r.values.get(*k).cloned().unwrap_or_default());
        }
        out += &format!(
            ",{},{},{},{},{},{},{}\n",
            r.done,
            num(r.final_d_loss),
            num(r.final_accuracy),
            num(r.best_accuracy),
            num(r.final_fid),
            num(r.best_fid),
            r.judge.clone().unwrap_or_default()
        );
    }
    out
}

/// Refuses a sweep name that is not a plain name, or one that exists already.
pub fn check_new(sweep_dir: &Path) -> Result<()> {
    if sweep_dir.exists() {
        bail!(
            "{} exists already; choose another --name, or use `sweep submit` / `sweep status` on it",
            sweep_dir.display()
        );
    }
    Ok(())
}
