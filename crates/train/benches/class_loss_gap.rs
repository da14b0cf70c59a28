//! How far the two class losses part in the first boost iterations of the article's configuration:
//! the exact cross-entropy on the logits (the default) and Keras 2.0's clipped form (what the
//! article computed, `--as-published`), both evaluated on the same logits at every critic and
//! generator step. Prints one JSON line per 5 iterations and a summary (the README's figures).
//! `cargo bench -p train --bench class_loss_gap --profile dev -- [--precision bf16] [--iterations 25]`

use clap::Parser;
use tch::Kind;
use train::{config::Config, losses::class_loss, Trainer};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    config: Config,
    #[command(flatten)]
    device: cli::DeviceArgs,
    /// cargo bench passes --bench to the binary.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Over the steps seen: the largest batch-mean loss of each form, the largest |Keras - logits|,
/// steps where they differ by more than 1e-3, and examples whose exact loss passes Keras's cap.
#[derive(Default)]
struct Gap {
    steps: u64,
    max_logits: f64,
    max_keras: f64,
    max_gap: f64,
    parted: u64,
    examples: u64,
    over_cap: u64,
}

impl Gap {
    fn observe(&mut self, logits: &tch::Tensor, classes: &tch::Tensor) {
        let exact = class_loss(logits, classes, false).double_value(&[]);
        let keras = class_loss(logits, classes, true).double_value(&[]);
        let per_example = logits.log_softmax(-1, Kind::Float).gather(1, &classes.unsqueeze(1), false).neg();
        self.steps += 1;
        self.max_logits = self.max_logits.max(exact);
        self.max_keras = self.max_keras.max(keras);
        self.max_gap = self.max_gap.max((keras - exact).abs());
        self.parted += ((keras - exact).abs() > 1e-3) as u64;
        self.examples += classes.size()[0] as u64;
        self.over_cap += per_example.gt(-(1e-7f64).ln()).sum(Kind::Int64).int64_value(&[]) as u64;
    }
}

fn main() {
    let mut args = Args::parse();
    cli::main(|| {
        args.config.apply_threads();
        let device = args.device.device()?;
        let data = data::Dataset::gan_training_set(&args.config.places.data_dir, device)?;
        let mut trainer = Trainer::new(&args.config.experiment, &args.config.arithmetic, data, device);
        let mut g = Gap::default();
        let iterations = args.config.cadence.iterations;
        for it in 0..iterations {
            trainer.iteration_observed(it, &mut |logits, classes| g.observe(logits, classes))?;
            if (it + 1) % 5 == 0 || it + 1 == iterations {
                println!(
                    "{}",
                    serde_json::json!({
                        "iterations": it + 1, "steps": g.steps,
                        "max_class_loss_logits": g.max_logits, "max_class_loss_keras": g.max_keras,
                        "max_abs_gap": g.max_gap, "steps_parted_over_1e-3": g.parted,
                        "examples": g.examples, "examples_over_16.118": g.over_cap,
                    })
                );
            }
        }
        Ok(())
    })
}
