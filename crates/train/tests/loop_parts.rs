//! The pieces of one generator iteration, on a small synthetic data set.

use clap::Parser;
use data::Dataset;
use tch::{nn, Device, Kind, Tensor};
use train::{config::Config, critic_iters, rmsprop::RmsProp, Trainer};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    config: Config,
}

/// A trainer on 32 random images: batch 4 (unless `extra` says), 1 critic iteration, 2 in boosts.
fn tiny_trainer(extra: &[&str]) -> Trainer {
    let batch: &[&str] = if extra.contains(&"--batch-size") { &[] } else { &["--batch-size", "4"] };
    let args = [&["t", "--d-iters", "1", "--boost-d-iters", "2"][..], batch, extra].concat();
    let cfg = Args::parse_from(args).config;
    let data = Dataset {
        images: Tensor::rand([32, 1, 28, 28], (Kind::Float, Device::Cpu)) * 2 - 1,
        labels: Tensor::randint(10, [32], (Kind::Int64, Device::Cpu)),
    };
    Trainer::new(&cfg.experiment, &cfg.arithmetic, data, Device::Cpu)
}

fn snapshot(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs.variables().into_iter().map(|(n, t)| (n, t.copy())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn schedule_boosts_the_first_25_of_every_thousand_and_every_500th() {
    let its: Vec<u64> = (0..2001).filter(|&it| critic_iters(it, 5, 100) == 100).collect();
    let expected: Vec<u64> = (0..25).chain(500..501).chain(1000..1025).chain(1500..1501).chain(2000..2001).collect();
    assert_eq!(its, expected);
    assert_eq!(critic_iters(25, 5, 100), 5);
    assert_eq!(critic_iters(999, 7, 100), 7);
    // The article's schedule: 20,000 iterations are 150,000 critic iterations... almost: count them.
    let total: u64 = (0..20_000).map(|it| critic_iters(it, 5, 100)).sum();
    assert_eq!(total, 20 * 25 * 100 + 20 * 100 + (20_000 - 20 * 25 - 20) * 5);
}

#[test]
fn rmsprop_matches_keras_2_by_hand() {
    let vs = nn::VarStore::new(Device::Cpu);
    let p = vs.root().var_copy("p", &Tensor::from_slice(&[1.0f32, -2.0]));
    let mut opt = RmsProp::new(&vs, 0.01);
    // Values from a = 0.9a + 0.1g², p -= lr·g/(√a + 1e-8), worked step by step.
    let expected = [[0.968377225, -1.968377224], [0.961853945, -1.974900505], [0.979131313, -1.974900505]];
    for (g, want) in [[0.5f32, -1.0], [0.1, 0.2], [-0.3, 0.0]].iter().zip(expected) {
        opt.step(&[Tensor::from_slice(g)]);
        let got = Vec::<f64>::try_from(p.to_kind(Kind::Double)).unwrap();
        assert!((got[0] - want[0]).abs() < 1e-6 && (got[1] - want[1]).abs() < 1e-6, "{got:?} vs {want:?}");
    }
}

#[test]
fn rmsprop_state_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("o.safetensors");
    let param = |init: &Tensor| {
        let vs = nn::VarStore::new(Device::Cpu);
        let p = vs.root().var_copy("p", init);
        (vs, p)
    };
    let (vs_a, p_a) = param(&Tensor::from_slice(&[1.0f32, -2.0]));
    let mut opt_a = RmsProp::new(&vs_a, 0.01);
    opt_a.step(&[Tensor::from_slice(&[0.5f32, -1.0])]);
    opt_a.save(&file).unwrap();
    let (vs_b, p_b) = param(&p_a);
    let mut opt_b = RmsProp::new(&vs_b, 0.01);
    opt_b.load(&file).unwrap();
    let (vs_c, p_c) = param(&p_a);
    let mut opt_c = RmsProp::new(&vs_c, 0.01); // same weights, no saved state
    for opt in [&mut opt_a, &mut opt_b, &mut opt_c] {
        opt.step(&[Tensor::from_slice(&[0.1f32, 0.2])]);
    }
    assert!(p_a.equal(&p_b), "the loaded state gives the same next step");
    assert!(!p_a.equal(&p_c), "without the state the next step differs");
}

#[test]
fn generator_step_leaves_the_critic_untouched() {
    let mut t = tiny_trainer(&[]);
    let (critic_before, generator_before) = (snapshot(t.critic_store()), snapshot(t.generator_store()));
    let _ = t.generator_step(&mut |_, _| {});
    for ((name, before), (_, after)) in critic_before.iter().zip(snapshot(t.critic_store())) {
        assert!(before.equal(&after), "{name} changed in the generator step");
        assert!(!t.critic_store().variables()[name].grad().defined(), "{name} accumulated a gradient");
    }
    let moved =
        generator_before.iter().zip(snapshot(t.generator_store())).filter(|((_, a), (_, b))| !a.equal(b)).count();
    assert_eq!(moved, generator_before.len(), "every generator parameter should move");
}

#[test]
fn as_published_the_generator_step_also_moves_the_critic_with_its_own_state() {
    let mut t = tiny_trainer(&["--as-published"]);
    let critic_before = snapshot(t.critic_store());
    let d_state_before = t.optimizers().1.accumulators();
    let _ = t.generator_step(&mut |_, _| {});
    let lr = t.experiment().lr;
    for ((name, before), (_, after)) in critic_before.iter().zip(snapshot(t.critic_store())) {
        // Keras's RMSprop from a = 0: a = 0.1 g², so each step is lr·g/(√0.1·|g| + 1e-8), at
        // most lr·√10, and that for every entry whose gradient is not tiny.
        let step = (&after - before).abs();
        let (largest, typical) = (step.max().double_value(&[]), step.median().double_value(&[]));
        assert!(largest <= lr * 10f64.sqrt() * (1.0 + 1e-5), "{name}: a step of {largest}");
        assert!(typical > 0.5 * lr * 10f64.sqrt(), "{name} did not move in the generator step (median {typical})");
    }
    // The critic's own optimizer state is untouched; the generator step's holds 0.1 g².
    let untouched = t.optimizers().1.accumulators().iter().zip(&d_state_before).all(|(a, b)| a.equal(b));
    assert!(untouched, "the generator step used the critic's own RMSprop state");
    let dg = t.optimizers().2.expect("as published has the generator step's critic state");
    assert!(dg.accumulators().iter().all(|a| a.sum(Kind::Double).double_value(&[]) > 0.0));
}

#[test]
fn clipping_bounds_every_critic_parameter() {
    let t = tiny_trainer(&[]);
    tch::no_grad(|| {
        for (_, p) in t.critic_store().variables() {
            p.shallow_clone().copy_(&(Tensor::rand_like(&p) * 0.1 - 0.05));
            let _ = p.view(-1).get(0).fill_(0.05); // at least one value out of the box
        }
    });
    t.clip_critic();
    let vars = t.critic_store().variables();
    assert_eq!(vars.len(), 12, "4 convs and 2 heads, weight and bias each");
    for (name, p) in vars {
        let max = p.abs().max().double_value(&[]);
        assert!(max <= 0.01f32 as f64, "{name}: |p| up to {max}");
        assert!(max == 0.01f32 as f64, "{name}: nothing reached the bound, so the clip was not exercised");
    }
}

#[test]
fn one_iteration_reports_finite_losses_of_its_critic_iterations() {
    let mut t = tiny_trainer(&[]);
    let losses = t.iteration(30).unwrap(); // not a boost: 1 critic iteration
    assert_eq!(losses.critic.len(), 1);
    let losses = t.iteration(0).unwrap(); // boost: 2 critic iterations
    assert_eq!(losses.critic.len(), 2);
    assert!(losses.values().iter().all(|v| v.is_finite()));
    // An untrained classifier head is near chance: cross-entropy close to ln 10.
    assert!((losses.values()[1] - 10f64.ln()).abs() < 0.1, "{:?}", losses.values());
    assert_eq!(losses.d_loss(), -losses.values()[0] - losses.values()[2]);
}

#[test]
fn the_fused_rmsprop_step_agrees_with_the_tensor_operators() {
    tch::manual_seed(11);
    let vs = nn::VarStore::new(Device::Cpu);
    // Sizes around the fused step's chunking, and a gradient laid out channels-last.
    let init =
        [Tensor::randn([70_001], (Kind::Float, Device::Cpu)), Tensor::randn([8, 3, 5, 5], (Kind::Float, Device::Cpu))];
    for (i, t) in init.iter().enumerate() {
        let _ = vs.root().var_copy(&format!("p{i}"), t);
    }
    let mut opt = RmsProp::new(&vs, 5e-5);
    let (mut p_ref, mut a_ref): (Vec<Tensor>, Vec<Tensor>) = init.iter().map(|t| (t.copy(), t.zeros_like())).unzip();
    for _ in 0..3 {
        let grads: Vec<Tensor> = init.iter().map(|t| t.randn_like() * 1e-3).collect();
        let grads = vec![grads[0].shallow_clone(), grads[1].permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])];
        opt.step(&grads);
        for ((p, a), g) in p_ref.iter_mut().zip(&mut a_ref).zip(&grads) {
            *a = &*a * 0.9 + g.square() * (1.0 - 0.9);
            *p = &*p - g * 5e-5 / (a.sqrt() + 1e-8);
        }
    }
    // The fused step rounds each float operation correctly; libtorch's square root (MKL's vsSqrt,
    // accurate to an ulp) is off by one on a fifth of inputs on the reference EPYC. So the two
    // sizes of a step (at most s = lr·√10) part by up to 5 ulps of s (four roundings on each side,
    // one of them an ulp wide), and each of the three subtractions rounds p on its own side: up to
    // one ulp of p per step, with |p| at most |want| + 3s. The bound is twice that, for CPUs whose
    // MKL rounds otherwise; a wrong constant or order of operations parts by orders more.
    let mut sorted: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let largest_step = 5e-5 * 10f64.sqrt();
    for ((name, p), want) in sorted.iter().zip(&p_ref) {
        let bound = 2.0 * ((want.abs() + 3.0 * largest_step) * 3.0 + 3.0 * 5.0 * largest_step) * f32::EPSILON as f64;
        let excess = ((p - want).abs() - &bound).max().double_value(&[]);
        assert!(excess <= 0.0, "{name}: the fused step parts from the operators by {excess:e} beyond rounding");
        assert!(!p.equal(&init[if name == "p0" { 0 } else { 1 }]), "{name} did not move");
    }
    for (a, want) in opt.accumulators().iter().zip(&a_ref) {
        assert!(a.equal(want), "an accumulator differs: no square root enters it");
    }
}

#[test]
fn the_schedule_counts_boosts_without_walking_and_projects_from_both_kinds() {
    use train::schedule::{counts, is_boost, project, Timing};
    assert_eq!(counts(0, 20_000), (520, 19_480));
    for (from, to) in [(0, 1), (24, 26), (499, 501), (500, 1000), (999, 1026), (1234, 5678), (7, 7), (9, 3)] {
        let boosts = (from..to.max(from)).filter(|&it| is_boost(it)).count() as u64;
        assert_eq!(counts(from, to), (boosts, to.max(from) - from - boosts), "{from}..{to}");
    }
    assert_eq!(project(0, 20_000, 30.0, 2.5), 520.0 * 30.0 + 19_480.0 * 2.5);

    // After the first (boost) iteration alone, normal ones are estimated from the critic
    // iterations: the ETA is hours, not the hundreds a constant rate would say.
    let mut timing = Timing::new(5, 100);
    assert_eq!(timing.remaining(0, 20_000), None);
    timing.record(0, 30.0);
    let (boost, normal) = timing.per_iteration().unwrap();
    assert_eq!(boost, 30.0);
    assert!(normal > 1.5 && normal < 4.0, "{normal}");
    let eta_hours = timing.remaining(1, 20_000).unwrap() / 3600.0;
    assert!(eta_hours > 10.0 && eta_hours < 25.0, "{eta_hours}");
    // Once both kinds are measured, their means are used as they are.
    timing.record(25, 2.0);
    timing.record(26, 3.0);
    assert_eq!(timing.per_iteration(), Some((30.0, 2.5)));
}
