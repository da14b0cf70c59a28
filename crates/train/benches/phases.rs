//! Where one seed-config generator iteration spends its time, phase by phase (the profile behind
//! the README's performance section): `cargo bench -p train --bench phases [-- --upsample plain --precision bf16]`.

use clap::Parser;
use std::time::Instant;
use tch::{Device, Kind, Tensor};
use train::{config::Config, Trainer};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    config: Config,
    /// cargo bench passes --bench to the binary.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Milliseconds per call of `f`, averaged over `n` calls after one warm-up call.
fn time(name: &str, n: u32, mut f: impl FnMut()) {
    f();
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    println!("{name:<48} {:8.1} ms", start.elapsed().as_secs_f64() * 1000.0 / n as f64);
}

fn main() {
    let mut args = Args::parse();
    args.config.apply_threads();
    let cpu = (Kind::Float, Device::Cpu);
    let data = data::Dataset {
        images: Tensor::rand([1000, 1, 28, 28], cpu),
        labels: Tensor::randint(10, [1000], (Kind::Int64, Device::Cpu)),
    };
    let mut t = Trainer::new(&args.config, data, Device::Cpu);
    let b = args.config.batch_size;
    let (z, c) = model::noise(5 * b, args.config.z_size, Device::Cpu);
    time("fakes: G forward, 5 batches, no autograd", 3, || {
        let _ = tch::no_grad(|| t.generator.forward(&z, &c));
    });
    let x = Tensor::rand([b, 1, 28, 28], cpu);
    let y = c.narrow(0, 0, b);
    time("critic forward, dropout on", 10, || drop(t.critic.forward(&x, true)));
    time("critic forward, dropout off", 10, || drop(t.critic.forward(&x, false)));
    time("critic step (forward, backward, RMSprop) x1", 10, || {
        let (f, cl) = t.critic.forward(&x, true);
        t.opt_d.minimize(&(f.mean(Kind::Float) + cl.cross_entropy_for_logits(&y)));
    });
    let (zg, cg) = (z.narrow(0, 0, b), y.shallow_clone());
    time("generator step: G+D forward, backward to G", 3, || {
        let (f, cl) = t.critic.forward(&t.generator.forward(&zg, &cg), true);
        let loss = (-f).mean(Kind::Float) + cl.cross_entropy_for_logits(&cg);
        drop(Tensor::run_backward(&[loss], &t.opt_g.params(), false, false));
    });
    let grads: Vec<Tensor> = t.opt_g.params().iter().map(|p| p.randn_like()).collect();
    time("RMSprop update of G (8.2M parameters)", 10, || t.opt_g.step(&grads));
    time("clip the critic", 100, || t.clip_critic());
}
