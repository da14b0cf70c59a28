//! `train`: the article's WGAN-ACGAN experiment. `cargo run -p train -- --gpu 0 --run B`

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches, Parser};
use data::Dataset;
use std::sync::atomic::{AtomicUsize, Ordering};
use train::config::Config;
use train::session::{Outcome, TrainingSession};
use train::{run, Trainer};

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
    device: cli::DeviceArgs,
    /// Continue the run from its newest checkpoint, bit-exactly (on the same device and thread
    /// count), or from the start with its recorded settings if it has no checkpoint yet.
    #[arg(long)]
    resume: bool,
}

static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

fn main() {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    cli::main(|| train(cli, &matches))
}

fn train(cli: Cli, matches: &clap::ArgMatches) -> Result<()> {
    let device = cli.device.device()?;
    // Everything that can refuse the flags or the run's files comes before anything is written.
    let (mut cfg, record) = match cli.resume {
        false => (cli.config.clone(), None),
        true => run::resumed_settings(&cli.config, matches).map(|(cfg, record)| (cfg, Some(record)))?,
    };
    cfg.apply_threads();
    cli::memory::ensure_available("training with these settings", train::memory_needed(&cfg))?;
    let judge = (cfg.cadence.eval_every > 0).then(|| eval::load_judge(&cfg.places.judge_dir, device)).transpose()?;
    let data = Dataset::gan_training_set(&cfg.places.data_dir, device)?;
    let trainer = Trainer::new(&cfg.experiment, &cfg.arithmetic, data, device);
    let session = TrainingSession::open(cfg, record, trainer, judge)?;
    install_interrupt_handler()?;
    match session.run(|| INTERRUPTS.load(Ordering::SeqCst) > 0)? {
        Outcome::Complete { run_dir, iterations } => {
            println!("{}: {iterations} of {iterations} iterations done", run_dir.display());
            Ok(())
        }
        Outcome::Interrupted { done, checkpoint } => {
            // Stopped by Ctrl-C or SIGTERM (Slurm's preemption and scancel): the checkpoint makes
            // the run continue exactly; the exit status says it did not finish (128 + SIGINT).
            println!(
                "interrupted after {done} iterations; checkpoint {}; continue with --resume",
                checkpoint.display()
            );
            std::process::exit(130);
        }
    }
}

/// Ctrl-C or SIGTERM: the first stops after the current iteration; a second quits at once.
fn install_interrupt_handler() -> Result<()> {
    ctrlc::set_handler(|| {
        if INTERRUPTS.fetch_add(1, Ordering::SeqCst) > 0 {
            eprintln!("\ninterrupted again: quitting without a checkpoint; the last one is intact");
            cli::exit_now(130);
        }
        eprintln!("\ninterrupted: stopping after this iteration, then checkpointing (Ctrl-C again quits at once)");
    })
    .map_err(|e| anyhow::anyhow!("cannot install the Ctrl-C handler: {e}"))
}
