//! `eval train-judge` and `eval score`: the numbers to put next to a run's pictures.

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use data::{Dataset, Split};
use eval::{fid, JudgeConfig, JudgeRecord, Scores};
use model::{checkpoint, device::DeviceArgs, Upsample};
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Judge classifier, conditional accuracy and FID for WGAN-ACGAN runs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Directory holding the runs; the judge lives in <runs-dir>/judge/.
    #[arg(long, global = true, default_value = "runs")]
    runs_dir: PathBuf,
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
    TrainJudge {
        #[command(flatten)]
        config: JudgeConfig,
        /// Replace an existing judge (scores made with the old one stop being comparable).
        #[arg(long)]
        force: bool,
    },
    /// Generate n samples (n/10 per class) from a run's generator and score them: conditional
    /// accuracy (judge's argmax == requested class), per-class accuracy, and FID against the test set.
    Score {
        /// Run name.
        #[arg(long, default_value = "B", conflicts_with = "real")]
        run: String,
        /// The checkpoint after this many iterations (default: the newest).
        #[arg(long)]
        checkpoint: Option<u64>,
        /// Number of samples, a multiple of 10.
        #[arg(long, default_value_t = 10_000)]
        n: i64,
        /// Seed of the sampling noise.
        #[arg(long, default_value_t = 0)]
        seed: i64,
        /// Score the real MNIST test images instead of a run (a sanity check: FID 0, accuracy =
        /// the judge's test accuracy).
        #[arg(long)]
        real: bool,
    },
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    let device = cli.device.device()?;
    let judge_dir = eval::judge_dir(&cli.runs_dir);
    match cli.command {
        Command::TrainJudge { config, force } => {
            if judge_dir.join(eval::JUDGE_FILE).exists() && !force {
                bail!("{} already holds a judge; pass --force to replace it", judge_dir.display());
            }
            let (train, test) = Dataset::train_and_test(&cli.data_dir, device)?;
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
            eval::save_judge(&judge_dir, &vs, &record, &test_stats)?;
            println!("saved {} (fid_real, train 60k vs test 10k: {fid_real:.3})", judge_dir.display());
            Ok(())
        }
        Command::Score { run, checkpoint, n, seed, real } => {
            let judge = eval::load_judge(&judge_dir, device)?;
            let (what, scores) = if real {
                let test = Dataset::split(&cli.data_dir, Split::Test, device)?;
                ("real MNIST test images".to_string(), eval::score_images(&judge, &test.images, &test.labels))
            } else {
                let run_dir = cli.runs_dir.join(&run);
                let (iteration, dir) = checkpoint::find(&run_dir, checkpoint)?;
                let (_vs, generator) = checkpoint::load_generator(&dir, device, Upsample::SubPixel)?;
                let (images, classes) = eval::generate_balanced(&generator, n, seed, device)?;
                (format!("run {run} after {iteration} iterations"), eval::score_images(&judge, &images, &classes))
            };
            print_scores(&what, &scores, &judge.record);
            let mut json = serde_json::to_value(&scores)?;
            json["what"] = what.into();
            json["fid_real"] = judge.record.fid_real.into();
            json["judge_test_accuracy"] = judge.record.test_accuracy.into();
            println!("{json}");
            Ok(())
        }
    }
}

fn print_scores(what: &str, s: &Scores, judge: &JudgeRecord) {
    println!("{what}: {} samples", s.n);
    println!(
        "  conditional accuracy  {:6.2}%   (judge on real test images: {:.2}%)",
        100.0 * s.conditional_accuracy,
        100.0 * judge.test_accuracy
    );
    println!("  FID vs test images    {:8.3}   (train vs test images: {:.3})", s.fid, judge.fid_real);
    let per: Vec<String> =
        s.per_class_accuracy.iter().enumerate().map(|(k, a)| format!("{k}:{:.1}", 100.0 * a)).collect();
    println!("  per class %           {}", per.join(" "));
}
