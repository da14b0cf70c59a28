//! One whole training iteration in bf16 against fp32 (its own test binary: libtorch's RNG is
//! global to the process, and both trainers must draw the same numbers).

use clap::Parser;
use data::Dataset;
use tch::{Device, Kind, Tensor};
use train::{config::Config, Trainer};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    config: Config,
}

/// A trainer on 64 random images, and those images.
fn trainer(precision: &str) -> (Trainer, Dataset) {
    let cfg = Args::parse_from(["t", "--batch-size", "32", "--d-iters", "1", "--precision", precision]).config;
    tch::manual_seed(0);
    let images = Tensor::rand([64, 1, 28, 28], (Kind::Float, Device::Cpu)) * 2 - 1;
    let labels = Tensor::randint(10, [64], (Kind::Int64, Device::Cpu));
    let data = Dataset { images: images.shallow_clone(), labels: labels.shallow_clone() };
    (Trainer::new(&cfg.experiment, &cfg.arithmetic, data, Device::Cpu), Dataset { images, labels })
}

/// bf16 keeps 8 significant bits: measured on this configuration, the logged losses of an
/// iteration differ from fp32 by under 1%, the critic steps' gradients by 0.4-11% of their norm,
/// the generator step's by 10-16% (its gradient runs back through both networks in bf16; a 15%
/// error is a cosine similarity of 0.99). The bounds leave room for other seeds and CPUs.
const LOSS_TOLERANCE: f64 = 0.02;
const GRADIENT_TOLERANCE: f64 = 0.20;

/// One test, so that nothing else draws from libtorch's process-wide RNG meanwhile.
#[test]
fn an_iteration_in_bf16_agrees_with_fp32() {
    iteration_losses_agree();
    each_step_of_an_iteration_agrees();
}

/// One whole iteration in bf16 from the same weights and random numbers as in fp32 (dropout
/// masks are drawn in fp32 either way): the six logged losses.
fn iteration_losses_agree() {
    let losses = |precision: &str| trainer(precision).0.iteration(30).unwrap().values();
    let (fp32, bf16) = (losses("fp32"), losses("bf16"));
    // The is_fake losses are means of near-zero critic outputs (a few 1e-3 at the start), where
    // cancellation makes relative errors meaningless: they get an absolute floor of 1e-3.
    for (k, (a, b)) in bf16.iter().zip(fp32).enumerate() {
        assert!(
            (a - b).abs() <= LOSS_TOLERANCE * b.abs() + 1e-3,
            "loss {}: bf16 {a} vs fp32 {b}",
            rundir::tags::LOSS_TAGS[k]
        );
    }
}

/// The three gradient computations of an iteration (the critic's real and fake steps, the
/// generator step), each from the same weights, data, noise and dropout masks in both
/// precisions. (After an RMSprop step the two runs part further: its first steps are nearly
/// lr·sign(g), so a gradient entry near 0 that flips sign moves its weight the other way. Whether
/// that matters is what the training curves in the README show.)
fn each_step_of_an_iteration_agrees() {
    let steps = |precision: &str| -> Vec<Vec<Tensor>> {
        let (t, data) = trainer(precision);
        t.clip_critic();
        tch::manual_seed(5);
        let (x, y) = data.gather(&Tensor::arange(32, (Kind::Int64, Device::Cpu)));
        let (z, c) = model::noise(32, 100, Device::Cpu);
        let fakes = t.generator().generate(&z, &c);
        let grads =
            |loss: Tensor, opt: &train::rmsprop::RmsProp| Tensor::run_backward(&[loss], &opt.params(), false, false);
        let critic_loss = |x: &Tensor, y: &Tensor, sign: f64| {
            let (f, cl) = t.critic().forward(x, true);
            (f * sign).mean(Kind::Float) + cl.cross_entropy_for_logits(y)
        };
        vec![
            grads(critic_loss(&x, &y, -1.0), t.optimizers().1),
            grads(critic_loss(&fakes, &c, 1.0), t.optimizers().1),
            grads(critic_loss(&t.generator().forward(&z, &c), &c, -1.0), t.optimizers().0),
        ]
    };
    let (fp32, bf16) = (steps("fp32"), steps("bf16"));
    for (step, (a, b)) in ["critic real", "critic fake", "generator"].iter().zip(bf16.iter().zip(&fp32)) {
        for (k, (ga, gb)) in a.iter().zip(b).enumerate() {
            let e = (ga - gb).norm().double_value(&[]) / gb.norm().double_value(&[]).max(1e-30);
            assert!(e < GRADIENT_TOLERANCE, "{step} step, parameter {k}: bf16 gradient differs by {e:.4} of its norm");
        }
    }
}
