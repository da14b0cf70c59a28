//! Seconds per generator iteration of this project at the seed's configuration (batch 100,
//! 5 critic iterations), median of --repeats after --warmup, and peak RSS: one JSON line.
//! `scripts/bench` runs it beside the PyTorch reference. Flags after `--`, e.g.
//! `cargo bench -p train --bench iteration -- --threads 2 --upsample plain --precision bf16`.

use clap::Parser;
use data::Dataset;
use std::time::Instant;
use train::{config::Config, Trainer};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    config: Config,
    #[command(flatten)]
    device: model::device::DeviceArgs,
    #[arg(long, default_value_t = 1)]
    warmup: u64,
    #[arg(long, default_value_t = 3)]
    repeats: u64,
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
    model::cli::main(|| bench(args))
}

fn bench(mut args: Args) -> anyhow::Result<()> {
    args.config.apply_threads();
    let device = args.device.device()?;
    if device.is_cuda() {
        model::precision::configure_cuda(args.config.tf32);
    }
    let data = Dataset::gan_training_set(&args.config.data_dir, device)?;
    let mut trainer = Trainer::new(&args.config, data, device);
    // Iterations 25.. are not boosted: each runs --d-iters critic iterations.
    let mut times = Vec::new();
    for it in 25..25 + args.warmup + args.repeats {
        let start = Instant::now();
        trainer.iteration(it)?;
        if device.is_cuda() {
            tch::Cuda::synchronize(0);
        }
        if it >= 25 + args.warmup {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let json = serde_json::json!({
        "implementation": format!(
            "rust-tch-{:?}-{:?}{}",
            args.config.upsample,
            args.config.precision,
            if args.config.tf32 { "-tf32" } else { "" }
        )
        .to_lowercase(),
        "device": format!("{device:?}"),
        "threads": tch::get_num_threads(),
        "batch_size": args.config.batch_size,
        "critic_iters": args.config.d_iters,
        "seconds_per_iteration": sorted[sorted.len() / 2],
        "all_seconds": times,
        "peak_rss_mib": peak_rss_mib(),
    });
    println!("{json}");
    Ok(())
}
