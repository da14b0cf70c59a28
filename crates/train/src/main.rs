//! `train`: the seed's WGAN-ACGAN experiment. `cargo run --release -p train -- --gpu 0 --run B`

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
/// runs`), samples/samples_NNNNNNN.png and checkpoints/<iterations done>/. Ctrl-C stops after the
/// current iteration and checkpoints; a second Ctrl-C quits at once (the last checkpoint stays).
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(flatten)]
    device: DeviceArgs,
    /// Continue the run from its newest complete checkpoint, bit-exactly (on the same device).
    #[arg(long)]
    resume: bool,
}

static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

fn main() {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Err(e) = train(cli, &matches) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn train(cli: Cli, matches: &clap::ArgMatches) -> Result<()> {
    let device = cli.device.device()?;
    let run_dir = cli.config.run_dir();
    let mut record = if cli.resume { Some(run::read_record(&run_dir)?) } else { None };
    let cfg = match &record {
        Some(r) => Config::resumed(&r.config, &cli.config, matches)?,
        None => cli.config.clone(),
    };
    anyhow::ensure!(
        cfg.eval_samples > 0 && cfg.eval_samples % 10 == 0,
        "--eval-samples must be a positive multiple of 10"
    );
    let judge = (cfg.eval_every > 0).then(|| eval::load_judge(&eval::judge_dir(&cfg.runs_dir), device)).transpose()?;
    let data = Dataset::gan_training_set(&cfg.data_dir, device)?;
    let mut trainer = Trainer::new(&cfg, data, device);
    let (start, mut recent) = match &mut record {
        Some(record) => {
            let (_, dir) = model::checkpoint::find(&run_dir, None)?;
            let (done, recent) = run::load_checkpoint(&mut trainer, &dir)?;
            anyhow::ensure!(
                done < cfg.iterations,
                "{} is complete at {done} iterations; raise --iterations to continue it",
                run_dir.display()
            );
            run::add_session(record, &cfg, run::Session::now(done, device))?;
            println!("resuming {} from {} ({done} iterations done)", run_dir.display(), dir.display());
            (done, recent)
        }
        None => {
            run::create(&cfg, run::Session::now(0, device))?;
            (0, RecentLosses::default())
        }
    };
    std::fs::create_dir_all(run_dir.join("samples"))?;
    ctrlc::set_handler(|| {
        if INTERRUPTS.fetch_add(1, Ordering::SeqCst) > 0 {
            eprintln!("\nsecond Ctrl-C: quitting without a checkpoint; the last one is intact");
            std::process::exit(130);
        }
        eprintln!("\nCtrl-C: stopping after this iteration, then checkpointing (Ctrl-C again quits at once)");
    })
    .context("cannot install the Ctrl-C handler")?;
    let mut events = EventWriter::open(&run_dir, start)?;
    let mut progress = Progress::new(start, cfg.iterations, "it");
    let mut critic_done: u64 = (0..start).map(|i| critic_iters(i, cfg.d_iters, cfg.boost_d_iters)).sum();
    let mut done = start;
    for it in start..cfg.iterations {
        if INTERRUPTS.load(Ordering::SeqCst) > 0 {
            break;
        }
        let losses = trainer.iteration(it).map_err(|e| {
            progress.finish();
            let last = model::checkpoint::list(&run_dir).ok().and_then(|l| l.last().map(|c| c.1.display().to_string()));
            e.context(format!(
                "stopped; the last good checkpoint is {}",
                last.unwrap_or_else(|| "none (none was written yet)".into())
            ))
        })?;
        recent.push(&losses);
        critic_done += critic_iters(it, cfg.d_iters, cfg.boost_d_iters);
        done = it + 1;
        if it % cfg.log_every == 0 {
            for (tag, value) in LOSS_TAGS.iter().zip(losses.values()) {
                events.scalar(tag, value as f32, it);
            }
            events.scalar(D_LOSS_TAG, losses.d_loss() as f32, it);
        }
        if it % cfg.sample_every == 0 {
            let (pixels, h, w) = trainer.sample_grid();
            logging::write_gray_png(&run_dir.join(format!("samples/samples_{it:07}.png")), &pixels, h, w)?;
            events.gray_image("samples", &pixels, h, w, it)?;
        }
        if let Some(judge) = judge.as_ref().filter(|_| it % cfg.eval_every == 0) {
            // The same noise at every evaluation, so the curve compares like with like. Drawing it
            // does not disturb training: every iteration reseeds.
            let (images, classes) =
                eval::generate_balanced(&trainer.generator, cfg.eval_samples, cfg.seed as i64, device)?;
            let scores = eval::score_images(judge, &images, &classes);
            events.scalar("eval/conditional_accuracy", scores.conditional_accuracy as f32, it);
            events.scalar("eval/fid", scores.fid as f32, it);
            progress.println(&format!(
                "eval at {it}: conditional accuracy {:.2}%, FID {:.3}",
                100.0 * scores.conditional_accuracy,
                scores.fid
            ));
        }
        if done % cfg.checkpoint_every == 0 || done == cfg.iterations {
            run::save_checkpoint(&trainer, done, &recent)?;
        }
        let means = recent.means();
        let shown: Vec<String> = LOSS_TAGS.iter().zip(means).map(|(t, m)| format!("{t} {m:.4}")).collect();
        progress.update(done, &format!("{} | critic its {critic_done}", shown.join(" ")));
    }
    progress.finish();
    if done < cfg.iterations {
        let dir = run::save_checkpoint(&trainer, done, &recent)?;
        println!("interrupted after {done} iterations; checkpoint {}; continue with --resume", dir.display());
    }
    events.close();
    println!("{}: {done} of {} iterations done", run_dir.display(), cfg.iterations);
    Ok(())
}
