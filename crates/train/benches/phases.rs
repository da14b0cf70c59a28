//! Where one generator iteration of the article's configuration spends its time, phase by phase (the profile behind
//! the README's performance section): `cargo bench -p train --bench phases [-- --precision bf16 --only "critic step" --times 10]`.

use clap::Parser;
use std::time::Instant;
use tch::{Device, Kind, Tensor};
use train::{config::Config, rmsprop::RmsProp, Trainer};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    config: Config,
    /// Time only the phases whose name contains this (to profile one under `perf record`).
    #[arg(long, default_value = "")]
    only: String,
    /// Calls per phase, as a multiple of its usual count (more to profile).
    #[arg(long, default_value_t = 1)]
    times: u32,
    /// cargo bench passes --bench to the binary.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Milliseconds per call of `f`, averaged over `n` calls after one warm-up call.
fn time(args: &Args, name: &str, n: u32, mut f: impl FnMut()) {
    if !name.contains(&args.only) {
        return;
    }
    let n = n * args.times;
    f();
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    println!("{name:<48} {:8.1} ms", start.elapsed().as_secs_f64() * 1000.0 / n as f64);
}

fn main() {
    let mut args = Args::parse();
    cli::keep_freed_memory();
    args.config.apply_threads();
    let (e, a) = (&args.config.experiment, &args.config.arithmetic);
    let cpu = (Kind::Float, Device::Cpu);
    let data = data::Dataset {
        images: Tensor::rand([1000, 1, 28, 28], cpu),
        labels: Tensor::randint(10, [1000], (Kind::Int64, Device::Cpu)),
    };
    let mut t = Trainer::new(e, a, data, Device::Cpu);
    let b = e.batch_size;
    let (z, c) = model::noise(5 * b, e.z_size, Device::Cpu);
    time(&args, "fakes: G forward, 5 batches, no autograd", 3, || drop(t.generator().generate(&z, &c)));
    let x = Tensor::rand([b, 1, 28, 28], cpu);
    let y = c.narrow(0, 0, b);
    let activations: Vec<Tensor> = [[b, 32, 14, 14], [b, 64, 14, 14], [b, 128, 7, 7], [b, 256, 7, 7]]
        .iter()
        .map(|s| model::channels_last(&Tensor::ones(*s, cpu).to_kind(a.precision.kind())))
        .collect();
    time(&args, "dropout masks of the critic's four layers", 10, || {
        activations.iter().for_each(|x| drop(model::masks::keep_scaled(x, model::DROPOUT)))
    });
    time(&args, "critic forward, dropout on", 10, || drop(t.critic().forward(&x, true)));
    time(&args, "critic forward, dropout off", 10, || drop(t.critic().forward(&x, false)));
    time(&args, "critic step (forward, backward, RMSprop) x1", 10, || {
        drop(t.critic_step(&x, &y, -1.0, &mut |_, _| {}))
    });
    time(&args, "generator step (G+D forward, backward, RMSprop of G)", 3, || drop(t.generator_step(&mut |_, _| {})));
    let mut opt_g = RmsProp::new(t.generator_store(), e.lr);
    let grads: Vec<Tensor> = opt_g.params().iter().map(|p| p.randn_like()).collect();
    time(&args, "RMSprop update of G alone (8.2M parameters)", 10, || opt_g.step(&grads));
    time(&args, "clip the critic", 100, || t.clip_critic());
}
