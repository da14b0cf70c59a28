//! `critic_reads`: what the critic's class head reads in a run's samples, beside what the judge
//! reads in them, and what it reads in the real test digits. An AC-GAN's generator is rewarded for
//! samples the critic's classifier reads as their class; this shows, class by class, whether it
//! reads them so where the judge does not (the finding of docs/results.md, run B at 20,000).

use anyhow::Result;
use clap::Parser;
use cli::{CheckpointArgs, DeviceArgs};
use data::{Dataset, Split};
use eval::SamplesArgs;
use model::Critic;
use rundir::checkpoint::CRITIC_FILE;
use std::path::PathBuf;
use tch::{nn, Kind, Tensor};

/// Images per critic forward pass: its first layer holds 32x28x28 values per image.
const CHUNK: i64 = 500;

/// Hold a checkpoint's critic, as a classifier, against the judge: n samples (n/10 per class, the
/// noise of `eval score`) read by the critic's class head and by the judge, and the 10,000 MNIST
/// test digits read by the critic's class head. Prints a table by class (markdown).
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    source: CheckpointArgs,
    /// The samples, as `eval score` draws them (so the judge's reading is the score's); the
    /// critic runs in their --precision too.
    #[command(flatten)]
    samples: SamplesArgs,
    /// The judge classifier's directory.
    #[arg(long, default_value = eval::DEFAULT_JUDGE_DIR)]
    judge_dir: PathBuf,
    /// Directory with the four MNIST IDX files.
    #[arg(long, default_value = data::DEFAULT_DIR)]
    data_dir: PathBuf,
    #[command(flatten)]
    device: DeviceArgs,
}

fn main() {
    let cli = Cli::parse();
    cli::main(|| critic_reads(cli))
}

fn critic_reads(cli: Cli) -> Result<()> {
    // Samples, and the critic's and the judge's logits of them, are all held at once.
    cli.samples.ensure_memory("reading", 28.0 * 28.0 * 4.0 + 20.0 * 4.0 * 2.0)?;
    let device = cli.device.device()?;
    let run_dir = cli.source.run_dir();
    let (iteration, dir, _generator_vs, generator) =
        eval::load_generator(&run_dir, cli.source.checkpoint, &[CRITIC_FILE], device, cli.samples.precision)?;
    let critic_vs = nn::VarStore::new(device);
    let critic = Critic::new(&critic_vs, cli.samples.precision);
    model::weights::load_var_store(&critic_vs, &dir.join(CRITIC_FILE))?;
    let judge = eval::load_judge(&cli.judge_dir, device)?;
    let test = Dataset::split(&cli.data_dir, Split::Test, device)?;

    let (samples, asked) = eval::generate_balanced(&generator, cli.samples.n, cli.samples.seed, device)?;
    let critic_on_samples = class_logits(&critic, &samples);
    let judge_on_samples = judge.judge.run(&samples).1;
    let critic_on_test = class_logits(&critic, &test.images);

    // Samples the judge misses but the critic reads as asked: what G gets credit for wrongly.
    let judge_misses = judge_on_samples.argmax(1, false).ne_tensor(&asked);
    let credited = critic_on_samples.argmax(1, false).eq_tensor(&asked).logical_and(&judge_misses);
    // By class, then over all images (index 10).
    let [mut missed, mut credited] = [&judge_misses, &credited].map(|m| per_class_count(m, &asked));
    missed.push(missed.iter().sum());
    credited.push(credited.iter().sum());
    let with_all = |logits: &Tensor, classes: &Tensor| -> Result<Vec<f64>> {
        let by_class = eval::per_class_accuracy(&eval::confusion(logits, classes)?);
        Ok([by_class, vec![eval::accuracy(logits, classes)]].concat())
    };
    let critic_samples = with_all(&critic_on_samples, &asked)?;
    let judge_samples = with_all(&judge_on_samples, &asked)?;
    let critic_test = with_all(&critic_on_test, &test.labels)?;
    let (loss_samples, loss_test) =
        (class_loss(&critic_on_samples, &asked)?, class_loss(&critic_on_test, &test.labels)?);

    println!(
        "Run {} after {iteration} iterations: {} samples (seed {}), {} test digits; critic in {}, without dropout\n",
        cli.source.run,
        cli.samples.n,
        cli.samples.seed,
        test.len(),
        cli.samples.precision
    );
    println!("| class | critic reads G's samples as asked | critic's class loss on them | judge reads them as asked | judge's misses the critic reads as asked | critic reads test digits right | critic's class loss on them |");
    println!("|---|---|---|---|---|---|---|");
    for k in 0..=10 {
        println!(
            "| {} | {:.1}% | {:.3} | {:.1}% | {} of {} | {:.1}% | {:.3} |",
            if k < 10 { k.to_string() } else { "all".into() },
            100.0 * critic_samples[k],
            loss_samples[k],
            100.0 * judge_samples[k],
            credited[k],
            missed[k],
            100.0 * critic_test[k],
            loss_test[k]
        );
    }
    Ok(())
}

/// The critic's class logits of many images, in chunks, without dropout or autograd.
fn class_logits(critic: &Critic, images: &Tensor) -> Tensor {
    let _guard = tch::no_grad_guard();
    Tensor::cat(&images.split(CHUNK, 0).iter().map(|x| critic.forward(x, false).1).collect::<Vec<_>>(), 0)
}

/// Mean cross-entropy of `logits` against `classes`: by class, then over all images (index 10).
fn class_loss(logits: &Tensor, classes: &Tensor) -> Result<Vec<f64>> {
    let loss =
        logits.cross_entropy_loss::<Tensor>(classes, None, tch::Reduction::None, -100, 0.0).to_kind(Kind::Double);
    let sums = Tensor::zeros([10], (Kind::Double, logits.device())).index_add(0, classes, &loss);
    let counts = classes.bincount::<Tensor>(None, 10).to_kind(Kind::Double);
    let mut by_class = Vec::<f64>::try_from(sums / counts)?;
    by_class.push(loss.mean(Kind::Double).double_value(&[]));
    Ok(by_class)
}

/// How many of each class's images `mask` marks.
fn per_class_count(mask: &Tensor, classes: &Tensor) -> Vec<i64> {
    let counts = classes.masked_select(mask).bincount::<Tensor>(None, 10);
    Vec::<i64>::try_from(counts).expect("bincount of int64 classes is int64")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_and_counts_go_to_their_class() {
        let classes = Tensor::from_slice(&[0i64, 0, 2, 9]);
        // Class 0's logits give it 3 / (3 + 9) = 1/4; even logits give every class 1/10.
        let logits = Tensor::zeros([4, 10], (Kind::Float, tch::Device::Cpu));
        let _ = logits.get(0).get(0).fill_(3f64.ln());
        let loss = class_loss(&logits, &classes).unwrap();
        assert!((loss[0] - (4f64.ln() + 10f64.ln()) / 2.0).abs() < 1e-6, "{loss:?}");
        assert!((loss[10] - (4f64.ln() + 3.0 * 10f64.ln()) / 4.0).abs() < 1e-6, "{loss:?}");
        assert!((loss[2] - 10f64.ln()).abs() < 1e-6 && (loss[9] - 10f64.ln()).abs() < 1e-6, "{loss:?}");
        assert!(loss[1].is_nan(), "a class without images has no loss: {loss:?}");
        let mask = Tensor::from_slice(&[true, false, true, true]);
        assert_eq!(per_class_count(&mask, &classes), [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]);
    }
}
