//! The networks against docs/SPEC.md: parameter counts, shapes, ranges, dropout, initialisers.

use model::{stored_parameter_count as parameter_count, Critic, Generator, Upsample};
use tch::{nn, Device, Kind, Tensor};

fn critic() -> (nn::VarStore, Critic) {
    let vs = nn::VarStore::new(Device::Cpu);
    let d = Critic::new(&vs, model::Precision::Fp32);
    (vs, d)
}

fn generator(upsample: Upsample) -> (nn::VarStore, Generator) {
    let vs = nn::VarStore::new(Device::Cpu);
    let g = Generator::new(&vs, model::Z_SIZE, upsample, model::Precision::Fp32);
    (vs, g)
}

fn var(vs: &nn::VarStore, name: &str) -> Tensor {
    vs.variables().remove(name).unwrap_or_else(|| panic!("no variable {name}"))
}

#[test]
fn parameter_totals_match_the_spec() {
    let (vs, _) = critic();
    assert_eq!(parameter_count(&vs, "critic"), 525_835);
    assert_eq!(parameter_count(&vs, "critic.output_class."), 125_450);
    assert_eq!(Critic::parameter_count(), 525_835);
    let (vs, _) = generator(Upsample::SubPixel);
    assert_eq!(parameter_count(&vs, "generator"), 8_172_521);
    assert_eq!(Generator::parameter_count(model::Z_SIZE), 8_172_521);
    let vs_z7 = nn::VarStore::new(Device::Cpu);
    let _ = Generator::new(&vs_z7, 7, Upsample::SubPixel, model::Precision::Fp32);
    assert_eq!(Generator::parameter_count(7), parameter_count(&vs_z7, "generator"));
    assert_eq!(parameter_count(&vs, "generator.dense_2."), 6_428_800);
    let mut names: Vec<String> = vs.variables().into_keys().collect();
    names.sort();
    assert_eq!(names[..3], ["generator.conv_1.bias", "generator.conv_1.weight", "generator.conv_2.bias"]);
}

#[test]
fn shapes_and_ranges() {
    tch::manual_seed(1);
    let (_, g) = generator(Upsample::SubPixel);
    let (z, c) = model::noise(6, model::Z_SIZE, Device::Cpu);
    let x = g.forward(&z, &c);
    assert_eq!(x.size(), [6, 1, 28, 28]);
    assert!(x.abs().max().double_value(&[]) < 1.0);
    let (_, d) = critic();
    let (is_fake, class) = d.forward(&x, true);
    assert_eq!((is_fake.size(), class.size()), (vec![6], vec![6, 10]));
}

#[test]
fn conv2x2_same_pads_after_like_tensorflow() {
    tch::manual_seed(2);
    let vs = nn::VarStore::new(Device::Cpu);
    let conv = nn::conv2d(vs.root(), 3, 2, 2, nn::ConvConfig { bs_init: nn::Init::Const(0.5), ..Default::default() });
    let x = Tensor::randn([1, 3, 5, 5], (Kind::Float, Device::Cpu));
    let y = model::conv2x2_same(&x, &conv);
    assert_eq!(y.size(), [1, 2, 5, 5]);
    // Symmetric padding of 1 gives 6x6; TensorFlow's output is its bottom-right 5x5.
    let sym = x.conv2d(&conv.ws, conv.bs.as_ref(), [1, 1], [1, 1], [1, 1], 1);
    assert!(y.allclose(&sym.narrow(2, 1, 5).narrow(3, 1, 5), 1e-6, 1e-6, false));
    // Bottom-right corner by hand: only the kernel's top-left tap sees data.
    let by_hand =
        (x.narrow(2, 4, 1).narrow(3, 4, 1).squeeze() * conv.ws.get(1).select(1, 0).select(1, 0)).sum(Kind::Float) + 0.5;
    assert!((y.double_value(&[0, 1, 4, 4]) - by_hand.double_value(&[])).abs() < 1e-6);
}

#[test]
fn dropout_only_in_training_mode() {
    tch::manual_seed(3);
    let (_, d) = critic();
    let x = Tensor::rand([4, 1, 28, 28], (Kind::Float, Device::Cpu)) * 2 - 1;
    let (eval_a, class_a) = d.forward(&x, false);
    let (eval_b, class_b) = d.forward(&x, false);
    assert!(eval_a.equal(&eval_b) && class_a.equal(&class_b));
    let (train_a, _) = d.forward(&x, true);
    let (train_b, _) = d.forward(&x, true);
    assert!(!train_a.equal(&train_b));
    assert!(!train_a.equal(&eval_a));
}

#[test]
fn class_input_changes_the_image() {
    tch::manual_seed(4);
    let (_, g) = generator(Upsample::SubPixel);
    let z = Tensor::randn([1, 100], (Kind::Float, Device::Cpu)).repeat([10, 1]);
    let x = g.forward(&z, &Tensor::arange(10, (Kind::Int64, Device::Cpu)));
    for k in 1..10 {
        assert!((x.get(0) - x.get(k)).abs().max().double_value(&[]) > 1e-6, "class {k} gives class 0's image");
    }
}

#[test]
fn initial_weights_follow_their_initialisers() {
    tch::manual_seed(5);
    let (vs, _) = generator(Upsample::SubPixel);
    let (vs_d, _) = critic();
    // N(0, 0.02) on 819,200 values: the sample std is within 0.5% of 0.02 with overwhelming odds.
    let w = var(&vs, "generator.conv_1.weight");
    assert!((w.std(true).double_value(&[]) - 0.02).abs() < 1e-4);
    assert!(w.mean(Kind::Float).double_value(&[]).abs() < 1e-4);
    // Glorot-uniform: bounded by sqrt(6 / (fan_in + fan_out)), std = limit / sqrt(3).
    for (vs, name, fan_in, fan_out) in [
        (&vs, "generator.dense_2.weight", 1024.0, 6272.0),
        (&vs, "generator.embedding.weight", 10.0, 100.0),
        (&vs_d, "critic.output_class.weight", 12544.0, 10.0),
    ] {
        let w = var(vs, name);
        let limit = f64::sqrt(6.0 / (fan_in + fan_out));
        let max = w.abs().max().double_value(&[]);
        assert!(max <= limit && max > 0.95 * limit, "{name}: max {max}, limit {limit}");
        let std = w.std(true).double_value(&[]);
        assert!((std / (limit / 3f64.sqrt()) - 1.0).abs() < 0.05, "{name}: std {std}");
    }
    for name in
        ["generator.dense_1.bias", "generator.conv_out.bias", "critic.conv_4.bias", "critic.output_is_fake.bias"]
    {
        let b = if name.starts_with("critic") { var(&vs_d, name) } else { var(&vs, name) };
        assert_eq!(b.abs().max().double_value(&[]), 0.0, "{name}");
    }
}

#[test]
fn generator_upsample_forms_agree() {
    tch::manual_seed(6);
    let (vs_plain, plain) = generator(Upsample::Plain);
    let (mut vs_fast, fast) = generator(Upsample::SubPixel);
    vs_fast.copy(&vs_plain).unwrap();
    let (z, c) = model::noise(8, model::Z_SIZE, Device::Cpu);
    let (a, b) = (plain.forward(&z, &c), fast.forward(&z, &c));
    assert!((a - b).abs().max().double_value(&[]) < 1e-5);
}

#[test]
fn dropout_keeps_70_percent_scaled_and_is_identity_in_eval() {
    let x = Tensor::rand([1_000_000], (Kind::Float, Device::Cpu)) + 0.5;
    assert!(model::dropout(&x, 0.3, false).equal(&x));
    let y = model::dropout(&x, 0.3, true);
    let kept = y.ne(0.0);
    // Bernoulli(0.7) over a million elements: the kept fraction is within 0.002 of 0.7 (>4 sigma).
    let fraction = kept.to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
    assert!((fraction - 0.7).abs() < 0.002, "{fraction}");
    let expected = x.masked_select(&kept) * (1.0 / 0.7);
    assert!(y.masked_select(&kept).allclose(&expected, 1e-6, 0.0, false));
}

#[test]
fn leaky_relu_has_the_article_slope_and_its_gradient_at_zero_is_the_slope() {
    for kind in [Kind::Float, Kind::BFloat16] {
        let x = Tensor::from_slice(&[-2.0f32, -0.5, 0.0, 0.5, 3.0]).to_kind(kind).set_requires_grad(true);
        let y = model::leaky_relu(&x);
        assert_eq!(y.kind(), kind);
        // libtorch computes the product in fp32 and rounds it to the activations' precision.
        let expected = Tensor::from_slice(&[-2.0f32 * 0.3, -0.5 * 0.3, 0.0, 0.5, 3.0]).to_kind(kind);
        assert!(y.equal(&expected), "{kind:?}: {y}");
        y.sum(kind).backward();
        let slope = 0.3f32;
        let grad = Tensor::from_slice(&[slope, slope, slope, 1.0, 1.0]).to_kind(kind);
        assert!(x.grad().equal(&grad), "{kind:?}: {}", x.grad());
    }
    let not_float = Tensor::from_slice(&[1i64, -1]);
    let message = std::panic::catch_unwind(|| model::leaky_relu(&not_float)).unwrap_err();
    assert!(message.downcast_ref::<String>().unwrap().contains("leaky_relu on a Int64 tensor"));
}

#[test]
fn channels_last_is_the_same_tensor() {
    let x = Tensor::randn([2, 3, 4, 5], (Kind::Float, Device::Cpu));
    let y = model::channels_last(&x);
    assert_eq!(y.size(), x.size());
    assert_eq!(y.stride(), [60, 1, 15, 3]);
    assert!(y.equal(&x));
    // One channel: the NHWC strides, not the NCHW ones that contiguous() leaves on a size-1 dim.
    let image = Tensor::randn([2, 1, 4, 5], (Kind::Float, Device::Cpu));
    assert_eq!(model::channels_last(&image).stride(), [20, 1, 5, 1]);
}

#[test]
fn every_layer_of_the_critic_computes_channels_last() {
    for precision in [model::Precision::Fp32, model::Precision::Bf16] {
        let vs = nn::VarStore::new(Device::Cpu);
        let critic = model::Critic::new(&vs, precision);
        let x = Tensor::rand([2, 1, 28, 28], (Kind::Float, Device::Cpu));
        let _ = critic.forward_traced(&x, true, &mut |name, y| {
            if y.dim() == 4 {
                let (c, s) = (y.size()[1], y.stride());
                assert_eq!((s[1], s[3]), (1, c), "{precision:?} {name}: strides {s:?} are not NHWC");
            }
        });
    }
}

#[test]
fn dropout_masks_are_bernoulli_the_same_in_both_precisions_and_reproducible() {
    let x = Tensor::ones([64, 32, 14, 14], (Kind::Float, Device::Cpu));
    let x = model::channels_last(&x);
    let drop = |x: &Tensor, seed: i64| {
        tch::manual_seed(seed);
        model::dropout(x, model::DROPOUT, true)
    };
    let (a, b, c) = (drop(&x, 5), drop(&x, 5), drop(&x, 6));
    assert!(a.equal(&b), "the same seed draws the same mask");
    assert!(!a.equal(&c), "another seed draws another mask");
    assert_eq!(a.stride(), x.stride(), "the output keeps the input's layout");
    let kept = a.ne(0.0).to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
    let n = x.numel() as f64;
    // Binomial(n, 0.7): the standard deviation of the kept fraction is sqrt(0.21 / n) = 0.0011.
    assert!((kept - 0.7).abs() < 5.0 * (0.21f64 / n).sqrt(), "kept {kept}");
    let scale = a.max().double_value(&[]);
    assert_eq!(scale, (1.0f64 / 0.7) as f32 as f64, "kept units are scaled by 1/(1-p)");
    let bf16 = drop(&x.to_kind(Kind::BFloat16), 5);
    assert!(bf16.ne(0.0).equal(&a.ne(0.0)), "bf16 and fp32 activations of one seed drop the same units");
    let nchw = drop(&x.contiguous(), 5);
    assert_eq!(nchw.stride(), [32 * 14 * 14, 14 * 14, 14, 1]);
    assert!(nchw.equal(&a), "the layout of the activations does not change which units drop");
}
