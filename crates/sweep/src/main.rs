//! `sweep`: many runs of `train` from a grid of flags, here or on a Slurm cluster, compared in one
//! table.
//!
//!   sweep run --name clip --grid seed=1,2,3 --grid clip=0.01,0.005 --engine slurm -- --gpu 0
//!   sweep status --name clip
//!   sweep compare --name clip
//!   sweep submit --name clip        (again: every unfinished run not in the queue continues)

use anyhow::{ensure, Context, Result};
use clap::{Parser, Subcommand};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use sweep::{Engine, Plan, SlurmOptions};

#[derive(Parser)]
#[command(about = "Sweeps of WGAN-ACGAN runs: a grid of train flags, run here or as a Slurm array job")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Directory holding the sweeps (a sweep's runs live in <runs-dir>/<name>/).
    #[arg(long, global = true, default_value = "runs")]
    runs_dir: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Expand the grid into runs, write the plan (<runs-dir>/<name>/sweep.json) and launch them.
    /// Flags after `--` are passed to every run's `train` (e.g. -- --iterations 2000 --gpu 0).
    Run {
        /// Sweep name (a plain name); its runs live in <runs-dir>/<name>/.
        #[arg(long, value_parser = cli::parse::run_name)]
        name: String,
        /// A swept train flag and its values, e.g. seed=1,2,3 (repeat for a grid: the runs are the
        /// cartesian product, named <prefix>-seed1-clip0.01, ...).
        #[arg(long = "grid", required = true, value_parser = sweep::parse_grid)]
        grid: Vec<(String, Vec<String>)>,
        /// First part of the run names.
        #[arg(long, default_value = "B", value_parser = cli::parse::run_name)]
        prefix: String,
        /// `local`: one run after another on this machine; `slurm`: one array job (sbatch).
        #[arg(long, value_enum, default_value_t = Engine::Local)]
        engine: Engine,
        #[command(flatten)]
        slurm: SlurmOptions,
        /// Flags for every run's train.
        #[arg(last = true)]
        train_flags: Vec<String>,
    },
    /// Launch every unfinished run that is not queued or running (after a cancel, a failure, or
    /// a time limit): each resumes from its newest checkpoint and ends as if never interrupted.
    Submit {
        #[arg(long)]
        name: String,
    },
    /// Per run: iterations done, state (queued / running / done / failed / not started; from
    /// Slurm's queue where it is the engine) and the last logged D loss.
    Status {
        #[arg(long)]
        name: String,
    },
    /// One table over the sweep's runs: swept values, iterations, final D loss, final and best
    /// judge scores. Also written as CSV.
    Compare {
        #[arg(long)]
        name: String,
        /// CSV file (default: <runs-dir>/<name>/compare.csv, rewritten each time). Another
        /// existing file is kept unless --force; no run's or sweep's own file is ever replaced.
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Replace an existing --csv file.
        #[arg(long)]
        force: bool,
    },
    /// Start or resume one run of the sweep (what each array task runs).
    Task {
        #[arg(long)]
        name: String,
        #[arg(long)]
        index: usize,
    },
}

fn main() {
    let cli = Cli::parse();
    cli::main(|| run(cli))
}

/// The `train` and `sweep` binaries beside this one.
fn sibling(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot locate the sweep binary")?;
    let path = exe.with_file_name(name);
    ensure!(path.is_file(), "{} is missing (build the workspace: scripts/setup)", path.display());
    Ok(path)
}

fn run(cli: Cli) -> Result<()> {
    let runs_dir = std::path::absolute(&cli.runs_dir)?;
    match cli.command {
        Command::Run { name, grid, prefix, engine, slurm, train_flags } => {
            let dir = runs_dir.join(&name);
            sweep::check_new(&dir)?;
            let mut plan = Plan::new(&name, &prefix, grid, train_flags, engine, slurm)?;
            plan.save(&dir)?;
            println!("sweep {name}: {} runs in {}", plan.runs.len(), dir.display());
            launch(&mut plan, &dir, &runs_dir)
        }
        Command::Submit { name } => {
            let dir = runs_dir.join(&name);
            let mut plan = Plan::load(&dir)?;
            launch(&mut plan, &dir, &runs_dir)
        }
        Command::Status { name } => {
            let dir = runs_dir.join(&name);
            let plan = Plan::load(&dir)?;
            println!("{:<36} {:>15}  {:<12} {:>12}", "run", "iterations", "state", "D loss");
            for s in sweep::status(&plan, &dir)? {
                let d_loss = s.last_d_loss.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into());
                println!("{:<36} {:>15}  {:<12} {:>12}", s.name, format!("{}/{}", s.done, s.total), s.state, d_loss);
            }
            Ok(())
        }
        Command::Compare { name, csv, force } => {
            let dir = runs_dir.join(&name);
            let plan = Plan::load(&dir)?;
            let default = dir.join(sweep::COMPARE_FILE);
            let csv = match csv {
                Some(path) if std::path::absolute(&path)? != default => {
                    rundir::output::check(&path, force, |_| false)?;
                    path
                }
                _ => default,
            };
            let rows = sweep::compare(&plan, &dir)?;
            print_comparison(&plan, &rows);
            rundir::atomic::write_bytes(&csv, sweep::comparison_csv(&plan, &rows).as_bytes())?;
            println!("wrote {}", csv.display());
            Ok(())
        }
        Command::Task { name, index } => {
            let dir = runs_dir.join(&name);
            let plan = Plan::load(&dir)?;
            match sweep::task_command(&plan, &dir, index, &sibling("train")?)? {
                None => {
                    println!("{} is complete", plan.runs[index].name);
                    Ok(())
                }
                // Become train, so that Slurm's signals (preemption, scancel) reach it directly.
                Some(mut cmd) => Err(cmd.exec()).context("cannot start train"),
            }
        }
    }
}

/// Launches the plan's unfinished runs that are neither queued nor running, with its engine.
fn launch(plan: &mut Plan, dir: &Path, runs_dir: &Path) -> Result<()> {
    let statuses = sweep::status(plan, dir)?;
    let todo: Vec<usize> = statuses
        .iter()
        .enumerate()
        .filter(|(_, s)| !matches!(s.state.as_str(), "done" | "queued" | "running"))
        .map(|(i, _)| i)
        .collect();
    ensure!(!todo.is_empty(), "nothing to launch: every run of sweep {} is done, queued or running", plan.name);
    match plan.engine {
        Engine::Slurm => {
            let job = sweep::submit(plan, dir, &todo, &sibling("sweep")?, runs_dir)?;
            println!(
                "submitted array job {job} ({} task(s)); watch with: sweep status --name {}",
                todo.len(),
                plan.name
            );
            Ok(())
        }
        Engine::Local => {
            let train = sibling("train")?;
            let mut failed = Vec::new();
            for i in todo {
                let name = &plan.runs[i].name;
                let Some(mut cmd) = sweep::task_command(plan, dir, i, &train)? else { continue };
                println!("== {name}");
                let status = cmd.status().context("cannot start train")?;
                if !status.success() {
                    failed.push(name.clone());
                }
            }
            ensure!(
                failed.is_empty(),
                "{} run(s) stopped before the end: {}; `sweep submit --name {}` continues them",
                failed.len(),
                failed.join(", "),
                plan.name
            );
            Ok(())
        }
    }
}

fn print_comparison(plan: &Plan, rows: &[sweep::Comparison]) {
    let keys: Vec<&String> = plan.grid.iter().map(|(k, _)| k).collect();
    let num = |v: Option<f64>, digits: usize| v.map(|x| format!("{x:.digits$}")).unwrap_or_else(|| "-".into());
    let mut header = format!("{:<36}", "run");
    for k in &keys {
        header += &format!(" {:>10}", k);
    }
    header += &format!(
        " {:>10} {:>9} {:>10} {:>10} {:>9} {:>9}",
        "iterations", "D loss", "acc final", "acc best", "FID final", "FID best"
    );
    println!("{header}");
    for r in rows {
        let mut line = format!("{:<36}", r.name);
        for k in &keys {
            line += &format!(" {:>10}", r.values.get(*k).map(String::as_str).unwrap_or("-"));
        }
        line += &format!(
            " {:>10} {:>9} {:>10} {:>10} {:>9} {:>9}",
            r.done,
            num(r.final_d_loss, 4),
            num(r.final_accuracy.map(|a| 100.0 * a), 2),
            num(r.best_accuracy.map(|a| 100.0 * a), 2),
            num(r.final_fid, 2),
            num(r.best_fid, 2)
        );
        println!("{line}");
    }
    let judges: std::collections::BTreeSet<&str> = rows.iter().filter_map(|r| r.judge.as_deref()).collect();
    if judges.len() > 1 {
        println!("warning: these runs were scored by {} different judges; their scores do not compare", judges.len());
    }
}
