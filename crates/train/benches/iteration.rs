//! Seconds per generator iteration of this project at the article's configuration (batch 100):
//! a normal iteration (5 critic iterations; median of --repeats after --warmup) and a boost
//! iteration (100 critic iterations; median of --boost-repeats), the whole 20,000-iteration
//! schedule projected from the two (`train::schedule`), and peak RSS: one JSON line.
//! `scripts/bench` runs it beside the PyTorch reference. Flags after `--`, e.g.
//! `cargo bench -p train --bench iteration -- --threads 2 --upsample plain --precision bf16`.

use clap::Parser;
use data::Dataset;
use std::time::Instant;
use train::{config::Config, schedule, Trainer};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    config: Config,
    #[command(flatten)]
    device: cli::DeviceArgs,
    #[arg(long, default_value_t = 1)]
    warmup: u64,
    #[arg(long, default_value_t = 3)]
    repeats: u64,
    /// Boost iterations to time (0: none; the projection then estimates them).
    #[arg(long, default_value_t = 1)]
    boost_repeats: u64,
    /// cargo bench passes --bench to the binary.
    #[arg(long, hide = true)]
    bench: bool,
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok());
    kib.unwrap_or(f64::NAN) / 1024.0
}

fn main() {
    let args = Args::parse();
    cli::main(|| bench(args))
}

/// Seconds of each iteration `its`, after running the first `warmup` of them untimed.
fn time_iterations(
    trainer: &mut Trainer,
    its: impl Iterator<Item = u64>,
    warmup: u64,
    cuda: bool,
) -> anyhow::Result<Vec<f64>> {
    let mut times = Vec::new();
    for (k, it) in its.enumerate() {
        let start = Instant::now();
        trainer.iteration(it)?;
        if cuda {
            tch::Cuda::synchronize(0);
        }
        if k as u64 >= warmup {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    Ok(times)
}

fn median(times: &[f64]) -> Option<f64> {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied()
}

fn bench(mut args: Args) -> anyhow::Result<()> {
    args.config.apply_threads();
    let device = args.device.device()?;
    let (e, a) = (&args.config.experiment, &args.config.arithmetic);
    if device.is_cuda() {
        model::precision::configure_cuda(a.tf32);
    }
    let data = Dataset::gan_training_set(&args.config.places.data_dir, device)?;
    let mut trainer = Trainer::new(e, a, data, device);
    // Iterations 25..999 but 500 run --d-iters critic iterations; 1000..1024 are boosts.
    let normal = time_iterations(&mut trainer, 25..25 + args.warmup + args.repeats, args.warmup, device.is_cuda())?;
    let boost = time_iterations(&mut trainer, 1000..1000 + args.boost_repeats, 0, device.is_cuda())?;
    let normal_s = median(&normal).expect("--repeats is at least 1");
    let mut timing = schedule::Timing::new(e.d_iters, e.boost_d_iters);
    timing.record(25, normal_s);
    if let Some(b) = median(&boost) {
        timing.record(1000, b);
    }
    let (boost_s, _) = timing.per_iteration().expect("a normal iteration was timed");
    let iterations = args.config.cadence.iterations;
    let json = serde_json::json!({
        "implementation": format!("rust-tch-{}-{}{}", a.upsample, a.precision, if a.tf32 { "-tf32" } else { "" }),
        "device": format!("{device:?}"),
        "threads": tch::get_num_threads(),
        "batch_size": e.batch_size,
        "critic_iters": e.d_iters,
        "boost_critic_iters": e.boost_d_iters,
        "seconds_per_iteration": normal_s,
        "all_seconds": normal,
        "seconds_per_boost_iteration": boost_s,
        "boost_measured": !boost.is_empty(),
        "schedule": { "iterations": iterations, "boost_and_normal": schedule::counts(0, iterations) },
        "projected_hours": timing.remaining(0, iterations).unwrap_or(f64::NAN) / 3600.0,
        "peak_rss_mib": peak_rss_mib(),
    });
    println!("{json}");
    Ok(())
}
