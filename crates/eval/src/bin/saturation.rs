//! `saturation`: how much of a checkpoint's generator output sits where tanh is flat. G's images
//! are tanh of its last layer; where tanh rounds to exactly ±1 its gradient 1 - tanh² is exactly
//! 0, so no signal reaches G through that pixel, and a generator gone black everywhere can no
//! longer learn (runs P and P32 of docs/results.md). With `--since`, also whether G's weights
//! still change at all.

use anyhow::Result;
use clap::Parser;
use cli::{CheckpointArgs, DeviceArgs};
use eval::SamplesArgs;
use model::{Generator, Precision};
use std::collections::HashMap;
use tch::{Kind, Tensor};

/// tanh's input is stepped this finely to find where each precision's tanh reaches 1.
const STEP: f64 = 1e-4;

/// Where a checkpoint's generator output sits on tanh: its last layer's values (tanh's input) over
/// n samples (the noise of `eval score`), the share of outputs at exactly ±1 when tanh is computed
/// in fp32 and in bf16 (no gradient passes there), and optionally how many of G's weights changed
/// since an earlier checkpoint. Prints markdown.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    source: CheckpointArgs,
    /// The samples, as `eval score` draws them.
    #[command(flatten)]
    samples: SamplesArgs,
    /// Also compare G's weights with those of the checkpoint after this many iterations.
    #[arg(long)]
    since: Option<u64>,
    #[command(flatten)]
    device: DeviceArgs,
}

fn main() {
    let cli = Cli::parse();
    cli::main(|| saturation(cli))
}

fn saturation(cli: Cli) -> Result<()> {
    // tanh's inputs, a sorted copy with its indices, and one precision's float64 outputs.
    cli.samples.ensure_memory("reading", 28.0 * 28.0 * (4.0 + 4.0 + 8.0 + 3.0 * 8.0))?;
    let device = cli.device.device()?;
    let run_dir = cli.source.run_dir();
    let SamplesArgs { n, seed, precision } = cli.samples;
    let (iteration, _, vs, generator) = eval::load_generator(&run_dir, cli.source.checkpoint, &[], device, precision)?;
    let (z, classes) = eval::balanced_noise(n, generator.z_size(), seed, device)?;
    let pre = pre_activations(&generator, &z, &classes).flatten(0, -1);
    // By rank in a sorted copy: libtorch's quantile refuses more than 2^24 values.
    let sorted = pre.sort(0, false).0;
    let last = sorted.size()[0] - 1;
    let q = |p: f64| sorted.double_value(&[(p * last as f64).round() as i64]);

    println!(
        "Run {} after {iteration} iterations: {n} samples (seed {seed}), generator in {precision}\n",
        cli.source.run
    );
    println!(
        "tanh's input: mean {:.2}, min {:.2}, 1st percentile {:.2}, median {:.2}, 99th percentile {:.2}, max {:.2}; mean pixel {:.2} of 255\n",
        pre.mean(Kind::Double).double_value(&[]),
        q(0.0),
        q(0.01),
        q(0.5),
        q(0.99),
        q(1.0),
        ((pre.tanh().to_kind(Kind::Double) + 1.0) * 127.5).mean(Kind::Double).double_value(&[])
    );
    println!("| tanh computed in | tanh = ±1 from abs(input) | outputs at ±1 (no gradient) | mean 1 - tanh² (the gradient's factor) |");
    println!("|---|---|---|---|");
    for tanh_in in [Precision::Fp32, Precision::Bf16] {
        let (flat, factor) = flat_share(&pre, tanh_in.kind());
        println!("| {tanh_in} | {:.2} | {:.4}% | {factor:.3e} |", flat_from(tanh_in.kind()), 100.0 * flat);
    }
    if let Some(since) = cli.since {
        let (_, _, earlier, _) = eval::load_generator(&run_dir, Some(since), &[], device, precision)?;
        let (changed, total, largest) = weight_change(&earlier.variables(), &vs.variables());
        println!(
            "\nG's weights since checkpoint {since}: {changed} of {total} changed ({:.2}%), the largest by {largest:.3e}",
            100.0 * changed as f64 / total as f64
        );
    }
    Ok(())
}

/// G's last layer before tanh, for every sample.
fn pre_activations(generator: &Generator, z: &Tensor, classes: &Tensor) -> Tensor {
    generator.in_chunks(z, classes, |z, c| {
        let mut pre = None;
        let _images = generator.forward_traced(z, c, &mut |name, x| {
            if name == "conv_out" {
                pre = Some(x.to_kind(Kind::Float));
            }
        });
        pre.expect("the generator traces its conv_out layer")
    })
}

/// The share of `pre` whose tanh, computed in `kind`, is exactly ±1, and the mean of 1 - tanh²
/// over all of `pre`: the factor tanh's backward pass multiplies each gradient by.
fn flat_share(pre: &Tensor, kind: Kind) -> (f64, f64) {
    let y = pre.to_kind(kind).tanh();
    let flat = y.abs().eq(1.0).to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
    let y = y.to_kind(Kind::Double);
    let factor = y.square().neg() + 1.0;
    (flat, factor.mean(Kind::Double).double_value(&[]))
}

/// The smallest input from which tanh computed in `kind` is exactly 1 (to `STEP`).
fn flat_from(kind: Kind) -> f64 {
    let x = Tensor::arange_start_step(0.0, 20.0, STEP, (Kind::Double, tch::Device::Cpu));
    let flat = x.to_kind(kind).tanh().eq(1.0);
    x.masked_select(&flat).min().double_value(&[])
}

/// How many weights differ between two stores of the same network, of how many, and the largest
/// difference.
fn weight_change(a: &HashMap<String, Tensor>, b: &HashMap<String, Tensor>) -> (i64, i64, f64) {
    let mut changed = 0;
    let mut total = 0;
    let mut largest = 0f64;
    for (name, x) in a {
        let y = &b[name];
        changed += x.ne_tensor(y).sum(Kind::Int64).int64_value(&[]);
        total += x.numel() as i64;
        largest = largest.max((x - y).abs().max().double_value(&[]));
    }
    (changed, total, largest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tanh_is_flat_earlier_in_bf16_than_in_fp32() {
        let (bf16, fp32) = (flat_from(Kind::BFloat16), flat_from(Kind::Float));
        // bf16 rounds 1 - 2^-9 up to 1: atanh(1 - 2^-9) = 3.466; fp32 rounds 1 - 2^-25: 9.01.
        assert!((bf16 - 3.466).abs() < 0.01, "{bf16}");
        assert!((fp32 - 9.01).abs() < 0.01, "{fp32}");
        let pre = Tensor::from_slice(&[-2f32, -5.0, -10.0, 0.0]);
        let (flat, factor) = flat_share(&pre, Kind::BFloat16);
        assert_eq!(flat, 0.5);
        assert!((factor - (1.0 - 2f64.tanh().powi(2) + 1.0) / 4.0).abs() < 0.01, "{factor}");
        assert_eq!(flat_share(&pre, Kind::Float).0, 0.25);
    }

    #[test]
    fn weight_change_counts_differing_weights() {
        let a = HashMap::from([("w".to_string(), Tensor::from_slice(&[1f32, 2.0, 3.0]))]);
        let b = HashMap::from([("w".to_string(), Tensor::from_slice(&[1f32, 2.5, 3.0]))]);
        assert_eq!(weight_change(&a, &b), (1, 3, 0.5));
        assert_eq!(weight_change(&a, &a), (0, 3, 0.0));
    }
}
