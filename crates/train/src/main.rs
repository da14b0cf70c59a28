//! `train`: the seed's WGAN-ACGAN experiment. `cargo run -p train -- --gpu 0 --run B`

use anyhow::{Context, Result};
use clap::{CommandFactory, FromArgMatches, Parser};
use data::Dataset;
use logging::{progress::Progress, tensorboard::EventWriter};
use model::device::DeviceArgs;
use std::sync::atomic::{AtomicUsize, Ordering};
use train::config::Config;
use train::{critic_iters, run, RecentLosses, Trainer, D_LOSS_TAG, LOSS_TAGS};

/// Train the WGAN-ACGAN of the 2017 Keras article on MNIST (defaults: the article's settings).
///
/// A run lives in <runs-dir>/<run>/: config.json, TensorBoard event files (`tensorboard --logdir
/// runs`), samples/samples_NNNNNNN.png and checkpoints/<iterations done>/. Ctrl-C (or SIGTERM)
/// stops after the current iteration and checkpoints (exit status 130); a second one quits at
/// once (the last checkpoint stays).
#[derive(Parser)]
#[command(version, allow_negative_numbers = true)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(flatten)]
    device: DeviceArgs,
    /// Continue the run from its newest complete checkpoint, bit-exactly (on the same device), or
    /// from the start with its recorded settings if it has no checkpoint yet.
    #[arg(long)]
    resume: bool,
}

static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

fn main() {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    model::cli::main(|| train(cli, &matches))
}

/// Where a run starts: its lock, the checkpoint it resumes from (none for a new run, or for a run
/// killed before its first checkpoint), and for a resumed run its record, to which this session
/// is added once the checkpoint has loaded.
struct Start {
    _lock: run::Lock,
    resume_from: Option<std::path::PathBuf>,
    resumed: Option<(run::RunRecord, u64)>,
}

/// The settings of the run to train: the flags for a new run; for `--resume`, the recorded ones
/// with what the flags may change. Reads, writes nothing.
fn settings(cli: &Cli, matches: &clap::ArgMatches) -> Result<(Config, Option<run::RunRecord>)> {
    if !cli.resume {
        return Ok((cli.config.clone(), None));
    }
    let record = run::read_record(&cli.config.run_dir())?;
    Ok((Config::resumed(&record.config, &cli.config, matches)?, Some(record)))
}

/// Creates the new run, or locks the resumed one and finds where it continues.
fn open_run(cfg: &Config, record: Option<run::RunRecord>, session: run::Session) -> Result<Start> {
    let Some(record) = record else {
        let (_, lock) = run::create(cfg, session)?;
        return Ok(Start { _lock: lock, resume_from: None, resumed: None });
    };
    let run_dir = cfg.run_dir();
    let lock = run::Lock::take(&run_dir)?;
    let newest = model::checkpoint::list(&run_dir)?.pop();
    let done = newest.as_ref().map_or(0, |c| c.0);
    anyhow::ensure!(
        done < cfg.iterations,
        "{} is complete at {done} iterations; raise --iterations to continue it",
        run_dir.display()
    );
    if let (Some(earlier), Some(now)) =
        (record.sessions.iter().rev().find_map(|s| s.judge_sha256.clone()), session.judge_sha256.as_ref())
    {
        anyhow::ensure!(
            earlier == *now,
            "the run's earlier evaluations used the judge with SHA-256 {earlier}, but {} holds {now}: \
             their scores would not compare. Point --judge-dir at the earlier judge, or resume with --eval-every 0",
            cfg.judge_dir.display()
        );
    }
    Ok(Start { _lock: lock, resume_from: newest.map(|c| c.1), resumed: Some((record, done)) })
}

fn train(cli: Cli, matches: &clap::ArgMatches) -> Result<()> {
    let device = cli.device.device()?;
    // Everything that can refuse the flags comes before the run directory is created or touched.
    let (mut cfg, record) = settings(&cli, matches)?;
    cfg.apply_threads();
    model::cli::ensure_memory("training with these settings", train::memory_needed(&cfg))?;
    let judge = (cfg.eval_every > 0).then(|| eval::load_judge(&cfg.judge_dir, device)).transpose()?;
    let data = Dataset::gan_training_set(&cfg.data_dir, device)?;
    let session =
        run::Session { judge_sha256: judge.as_ref().map(|j| j.sha256.clone()), ..run::Session::now(0, device) };
    let start = open_run(&cfg, record, session.clone())?;
    if device.is_cuda() {
        model::precision::configure_cuda(cfg.tf32);
    }
    if let Some(note) = cfg.precision.notice(device) {
        eprintln!("{note}");
    }
    let run_dir = cfg.run_dir();
    let mut trainer = Trainer::new(&cfg, data, device);
    let (start_it, mut recent) = match &start.resume_from {
        Some(dir) => {
            let (done, recent) = run::load_checkpoint(&mut trainer, dir)?;
            println!("resuming {} from {} ({done} iterations done)", run_dir.display(), dir.display());
            (done, recent)
        }
        None if cli.resume => {
            println!(
                "{} has no checkpoint yet: starting it from iteration 0 with its recorded settings",
                run_dir.display()
            );
            (0, RecentLosses::default())
        }
        None => (0, RecentLosses::default()),
    };
    if let Some((mut record, done)) = start.resumed {
        run::add_session(&mut record, &cfg, run::Session { start_iteration: done, ..session })?;
    }
    std::fs::create_dir_all(run_dir.join("samples"))?;
    ctrlc::set_handler(|| {
        if INTERRUPTS.fetch_add(1, Ordering::SeqCst) > 0 {
            eprintln!("\ninterrupted again: quitting without a checkpoint; the last one is intact");
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: stopping after this iteration, then checkpointing (Ctrl-C again quits at once)");
    })
    .context("cannot install the Ctrl-C handler")?;
    let mut events = EventWriter::open(&run_dir, start_it)?;
    if let Some(judge) = &judge {
        events.text("eval/judge", &format!("judge SHA-256 {}", judge.sha256), start_it)?;
    }
    let mut progress = Progress::new(start_it, cfg.iterations, "it");
    let mut critic_done: u64 = (0..start_it).map(|i| critic_iters(i, cfg.d_iters, cfg.boost_d_iters)).sum();
    let mut done = start_it;
    for it in start_it..cfg.iterations {
        if INTERRUPTS.load(Ordering::SeqCst) > 0 {
            break;
        }
        let losses = trainer.iteration(it).map_err(|e| {
            progress.finish();
            let last = model::checkpoint::list(&run_dir).ok().and_then(|l| l.last().map(|c| c.1.display().to_string()));
            e.context(format!(
                "stopped; the last good checkpoint is {}",
                last.unwrap_or_else(|| "none (none was written yet; --resume starts the run over)".into())
            ))
        })?;
        recent.push(&losses);
        critic_done += critic_iters(it, cfg.d_iters, cfg.boost_d_iters);
        done = it + 1;
        if it % cfg.log_every == 0 {
            for (tag, value) in LOSS_TAGS.iter().zip(losses.values()) {
                events.scalar(tag, value as f32, it)?;
            }
            events.scalar(D_LOSS_TAG, losses.d_loss() as f32, it)?;
            run::failpoint("logged");
        }
        if it % cfg.sample_every == 0 {
            let grid = trainer.sample_grid();
            logging::write_gray_png(&run_dir.join(format!("samples/samples_{it:07}.png")), &grid.view())?;
            events.gray_image("samples", &grid.view(), it)?;
        }
        if let Some(judge) = judge.as_ref().filter(|_| it % cfg.eval_every == 0) {
            // The same noise at every evaluation, so the curve compares like with like. Drawing it
            // does not disturb training: every iteration reseeds.
            let (images, classes) =
                eval::generate_balanced(&trainer.generator, cfg.eval_samples, cfg.seed as i64, device)?;
            let scores = eval::score_images(judge, &images, &classes);
            events.scalar("eval/conditional_accuracy", scores.conditional_accuracy as f32, it)?;
            events.scalar("eval/fid", scores.fid as f32, it)?;
            progress.println(&format!(
                "eval at {it}: conditional accuracy {:.2}%, FID {:.3}",
                100.0 * scores.conditional_accuracy,
                scores.fid
            ));
        }
        if done % cfg.checkpoint_every == 0 || done == cfg.iterations {
            events.flush()?;
            run::save_checkpoint(&trainer, done, &recent)?;
        }
        if it % cfg.log_every == 0 {
            events.flush()?;
        }
        let means = recent.means();
        let shown: Vec<String> = LOSS_TAGS.iter().zip(means).map(|(t, m)| format!("{t} {m:.4}")).collect();
        progress.update(done, &format!("{} | critic its {critic_done}", shown.join(" ")));
    }
    progress.finish();
    events.flush()?;
    if done < cfg.iterations {
        // Stopped by Ctrl-C or SIGTERM (Slurm's preemption and scancel): the checkpoint makes the
        // run continue exactly; the exit status says it did not finish (128 + SIGINT).
        let dir = run::save_checkpoint(&trainer, done, &recent)?;
        println!("interrupted after {done} iterations; checkpoint {}; continue with --resume", dir.display());
        std::process::exit(130);
    }
    println!("{}: {done} of {} iterations done", run_dir.display(), cfg.iterations);
    Ok(())
}
