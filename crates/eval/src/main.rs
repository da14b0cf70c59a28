//! `eval train-judge` and `eval score`: the numbers to put next to a run's pictures.

use anyhow::{bail, ensure, Context, Result};
use clap::{Parser, Subcommand};
use cli::DeviceArgs;
use data::{Dataset, Split};
use eval::{fid, plot, JudgeConfig, JudgeRecord, SamplesArgs, Scores};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(about = "Judge classifier, conditional accuracy and FID for WGAN-ACGAN runs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Directory holding the runs.
    #[arg(long, global = true, default_value = "runs")]
    runs_dir: PathBuf,
    /// The judge classifier's directory (independent of --runs-dir: one judge scores all runs).
    #[arg(long, global = true, default_value = eval::DEFAULT_JUDGE_DIR)]
    judge_dir: PathBuf,
    /// Directory with the four MNIST IDX files.
    #[arg(long, global = true, default_value = data::DEFAULT_DIR)]
    data_dir: PathBuf,
    #[command(flatten)]
    device: DeviceArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Train the judge CNN on the 60k MNIST training images (seeded); it must reach >= 99.0% on the
    /// 10k test images to be saved. Also stores the test images' feature statistics and fid_real.
    #[command(allow_negative_numbers = true)]
    TrainJudge {
        #[command(flatten)]
        config: JudgeConfig,
        /// Replace an existing judge (scores made with the old one stop being comparable).
        #[arg(long)]
        force: bool,
    },
    /// Generate n samples (n/10 per class) from a run's generator and score them: conditional
    /// accuracy (judge's argmax == requested class), per-class accuracy, and FID against the test set.
    #[command(allow_negative_numbers = true)]
    Score {
        /// Run name.
        #[arg(long, default_value = "B", conflicts_with = "real", value_parser = cli::parse::run_name)]
        run: String,
        /// The checkpoint after this many iterations (default: the newest).
        #[arg(long)]
        checkpoint: Option<u64>,
        #[command(flatten)]
        samples: SamplesArgs,
        /// Score the real MNIST test images instead of a run (a sanity check: FID 0, accuracy =
        /// the judge's test accuracy).
        #[arg(long)]
        real: bool,
    },
    /// Draw a run's training curves into one PNG: the D-loss composite, the judge's scores (when
    /// logged) and the six losses, raw values faint with a smoothed line over them, as
    /// TensorBoard shows them. Several --run overlay their curves, one color each.
    #[command(allow_negative_numbers = true)]
    Plot {
        /// Run name; repeat to overlay several runs (default: B, unless --all or --csv is given).
        #[arg(long, value_parser = cli::parse::run_name)]
        run: Vec<String>,
        /// Every run under --runs-dir (e.g. a sweep's directory), overlaid.
        #[arg(long, conflicts_with = "run")]
        all: bool,
        /// A published run: its scalars CSV as scripts/publish-results writes it
        /// (docs/results/RUN-scalars.csv), drawn as run RUN, exactly as its run directory drew.
        /// Repeat, and mix with --run, to overlay runs whose run directories are gone.
        #[arg(long, value_name = "RUN-scalars.csv")]
        csv: Vec<PathBuf>,
        /// Output PNG (default: <runs-dir>/<run>/curves.png for one run, else
        /// <runs-dir>/curves.png). An existing file other than the default is kept unless --force.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace an existing --out file.
        #[arg(long)]
        force: bool,
        /// TensorBoard's smoothing weight, in [0, 1).
        #[arg(long, default_value_t = 0.6, value_parser = smoothing_weight)]
        smoothing: f64,
        /// Only steps up to this iteration (to compare a short run with the start of a long one).
        #[arg(long)]
        until: Option<u64>,
    },
}

fn smoothing_weight(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(w) if (0.0..1.0).contains(&w) => Ok(w),
        Ok(_) => Err("must be in [0, 1)".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn main() {
    let cli = Cli::parse();
    cli::main(|| run(cli))
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::TrainJudge { config, force } => train_judge(&cli.judge_dir, &cli.data_dir, &cli.device, config, force),
        Command::Plot { run, all, csv, out, force, smoothing, until } => {
            let runs = match (all, run.is_empty() && csv.is_empty()) {
                (true, _) => all_runs(&cli.runs_dir)?,
                (false, true) => vec!["B".to_string()],
                (false, false) => run,
            };
            plot(&cli.runs_dir, runs, csv, out, force, smoothing, until)
        }
        Command::Score { run, checkpoint, samples, real } => {
            let what = (!real).then(|| (cli.runs_dir.join(&run), checkpoint));
            score(&cli.judge_dir, &cli.data_dir, &cli.device, what, &samples)
        }
    }
}

/// Trains a judge into `judge_dir`, which must be new or a judge's directory.
fn train_judge(judge_dir: &Path, data_dir: &Path, device: &DeviceArgs, config: JudgeConfig, force: bool) -> Result<()> {
    rundir::output::check_dir(judge_dir, "a judge")?;
    if judge_dir.join(eval::JUDGE_FILE).exists() && !force {
        bail!("{} already holds a judge; pass --force to replace it", judge_dir.display());
    }
    let holds_other_files = std::fs::read_dir(judge_dir).is_ok_and(|mut d| d.next().is_some())
        && !judge_dir.join(eval::RECORD_FILE).is_file();
    ensure!(
        !holds_other_files && (judge_dir.is_dir() || !judge_dir.exists()),
        "{} exists and is not a judge directory; a new judge replaces its directory whole, so choose another --judge-dir",
        judge_dir.display()
    );
    let device = device.device()?;
    let (train, test) = Dataset::train_and_test(data_dir, device)?;
    let started = std::time::Instant::now();
    let (vs, judge, test_accuracy) = eval::train_judge(&config, &train, &test)?;
    let train_seconds = started.elapsed().as_secs_f64();
    println!("judge test accuracy: {:.2}% ({train_seconds:.0} s)", 100.0 * test_accuracy);
    if test_accuracy < 0.99 {
        bail!("the judge reached {:.2}% < 99.0% and was not saved; try more --epochs", 100.0 * test_accuracy);
    }
    let test_stats = fid::Stats::of(&judge.run(&test.images).0);
    let fid_real = fid::frechet_distance(&fid::Stats::of(&judge.run(&train.images).0), &test_stats);
    let record = JudgeRecord { config, test_accuracy, fid_real, train_seconds };
    eval::save_judge(judge_dir, &vs, &record, &test_stats)?;
    println!("saved {} (fid_real, train 60k vs test 10k: {fid_real:.3})", judge_dir.display());
    Ok(())
}

/// Scores `n` samples of a run's checkpoint (`run`: its directory and iteration, None for the
/// newest), or the real test images (`run` None), and prints the scores and one JSON line.
fn score(
    judge_dir: &Path,
    data_dir: &Path,
    device: &DeviceArgs,
    run: Option<(PathBuf, Option<u64>)>,
    samples: &SamplesArgs,
) -> Result<()> {
    // Images, and the judge's features and logits of them, are all held at once.
    samples.ensure_memory("scoring", 28.0 * 28.0 * 4.0 + (eval::FEATURES as f64 + 10.0) * 4.0 * 2.0)?;
    let device = device.device()?;
    let judge = eval::load_judge(judge_dir, device)?;
    let (what, scores) = match run {
        None => {
            let test = Dataset::split(data_dir, Split::Test, device)?;
            ("real MNIST test images".to_string(), eval::score_images(&judge, &test.images, &test.labels)?)
        }
        Some((run_dir, checkpoint)) => {
            let (iteration, _, _vs, generator) =
                eval::load_generator(&run_dir, checkpoint, &[], device, samples.precision)?;
            let (images, classes) = eval::generate_balanced(&generator, samples.n, samples.seed, device)?;
            let name = run_dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
            (format!("run {name} after {iteration} iterations"), eval::score_images(&judge, &images, &classes)?)
        }
    };
    print_scores(&what, &scores, &judge);
    let mut json = serde_json::to_value(&scores)?;
    json["what"] = what.into();
    json["fid_real"] = judge.record.fid_real.into();
    json["judge_test_accuracy"] = judge.record.test_accuracy.into();
    json["judge_sha256"] = judge.sha256.clone().into();
    println!("{json}");
    Ok(())
}

/// Run names under `runs_dir`: the directories holding a run record.
fn all_runs(runs_dir: &std::path::Path) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(runs_dir).with_context(|| format!("cannot list {}", runs_dir.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| rundir::is_run(&e.path()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    ensure!(!names.is_empty(), "{} holds no runs", runs_dir.display());
    Ok(names)
}

fn plot(
    runs_dir: &std::path::Path,
    runs: Vec<String>,
    csv: Vec<PathBuf>,
    out: Option<PathBuf>,
    force: bool,
    smoothing: f64,
    until: Option<u64>,
) -> Result<()> {
    let from_dirs = runs.iter().map(|r| plot::Curves::load(r, &runs_dir.join(r)));
    let from_csvs = csv.iter().map(|path| plot::Curves::from_csv(path));
    let mut curves: Vec<plot::Curves> = from_dirs.chain(from_csvs).collect::<Result<_>>()?;
    if let Some(last) = until {
        for c in &mut curves {
            c.series.values_mut().for_each(|points| points.retain(|p| p.0 <= last));
        }
    }
    // A single run's picture goes to its directory; with a CSV among them, to --runs-dir.
    let own = if csv.is_empty() { &runs[..] } else { &[] };
    let out = eval::picture_path(runs_dir, own, "curves", out, force)?;
    if curves.len() > 1 {
        println!("{}", plot::difference_table(&curves));
    }
    let rgb = plot::render(&curves, smoothing)?;
    let (w, h) = (plot::WIDTH as usize, plot::HEIGHT as usize);
    logging::write_png(&out, &rgb, h, w, logging::ColorType::Rgb)?;
    let judges: std::collections::BTreeSet<_> = curves.iter().filter_map(|c| c.judge.as_deref()).collect();
    if judges.len() > 1 {
        eprintln!(
            "warning: these runs were scored by {} different judges; their eval/* curves do not compare",
            judges.len()
        );
    }
    println!("wrote {} ({w}x{h}, {} run(s))", out.display(), curves.len());
    Ok(())
}

fn print_scores(what: &str, s: &Scores, loaded: &eval::LoadedJudge) {
    let judge = &loaded.record;
    println!("{what}: {} samples (judge SHA-256 {})", s.n, loaded.sha256);
    println!(
        "  conditional accuracy  {:6.2}%   (judge on real test images: {:.2}%)",
        100.0 * s.conditional_accuracy,
        100.0 * judge.test_accuracy
    );
    println!("  FID vs test images    {:8.3}   (train vs test images: {:.3})", s.fid, judge.fid_real);
    let per: Vec<String> =
        s.per_class_accuracy.iter().enumerate().map(|(k, a)| format!("{k}:{:.1}", 100.0 * a)).collect();
    println!("  per class %           {}", per.join(" "));
    println!("  judged as             {}", (0..10).map(|k| format!("{k:>5}")).collect::<String>());
    for (k, row) in s.confusion.iter().enumerate() {
        println!("  asked for {k}           {}", row.iter().map(|c| format!("{c:>5}")).collect::<String>());
    }
}
