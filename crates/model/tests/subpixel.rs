//! The sub-pixel rewrite computes the same function as nearest x2 upsampling + 5x5 "same" conv:
//! outputs and gradients w.r.t. input, weight and bias, for both of G's layer shapes.

use model::subpixel::{plain_upsample_conv5x5, upsample_conv5x5};
use tch::{Device, Kind, Tensor};

/// Max abs difference of outputs and of the three gradients, each divided by `scale(reference)`.
fn max_differences(kind: Kind, c_in: i64, c_out: i64, hw: i64, scale: fn(&Tensor) -> f64) -> [f64; 4] {
    let opts = (kind, Device::Cpu);
    let x = Tensor::randn([2, c_in, hw, hw], opts).set_requires_grad(true);
    let w = (Tensor::randn([c_out, c_in, 5, 5], opts) * 0.02).set_requires_grad(true);
    let b = Tensor::randn([c_out], opts).set_requires_grad(true);
    // A fixed random upstream gradient, so every output element is weighed differently.
    let upstream = Tensor::randn([2, c_out, 2 * hw, 2 * hw], opts);
    let run = |f: fn(&Tensor, &Tensor, Option<&Tensor>) -> Tensor| {
        let y = f(&x, &w, Some(&b));
        let grads = Tensor::run_backward(&[(&y * &upstream).sum(kind)], &[&x, &w, &b], false, false);
        std::iter::once(y.detach()).chain(grads).collect::<Vec<_>>()
    };
    let (plain, fast) = (run(plain_upsample_conv5x5), run(upsample_conv5x5));
    let mut out = [0.0; 4];
    for (i, (p, f)) in plain.iter().zip(&fast).enumerate() {
        assert_eq!(p.size(), f.size());
        out[i] = (p - f).abs().max().double_value(&[]) / scale(p);
    }
    out
}

#[test]
fn equal_in_float64_to_1e_9_absolute() {
    tch::manual_seed(10);
    for (c_in, c_out, hw) in [(128, 256, 7), (256, 128, 14)] {
        let d = max_differences(Kind::Double, c_in, c_out, hw, |_| 1.0);
        eprintln!("float64 {c_in}->{c_out} at {hw}x{hw}: |output|, |dx|, |dw|, |db| max abs differences {:.2e} {:.2e} {:.2e} {:.2e}", d[0], d[1], d[2], d[3]);
        assert!(d.iter().all(|&e| e <= 1e-9), "{c_in}->{c_out} at {hw}x{hw}: output, dx, dw, db differ by {d:?}");
    }
}

#[test]
fn equal_in_float32_to_1e_5_of_the_largest_magnitude() {
    tch::manual_seed(11);
    for (c_in, c_out, hw) in [(128, 256, 7), (256, 128, 14)] {
        let d = max_differences(Kind::Float, c_in, c_out, hw, |t| t.abs().max().double_value(&[]));
        eprintln!(
            "float32 {c_in}->{c_out} at {hw}x{hw}: relative max differences {:.2e} {:.2e} {:.2e} {:.2e}",
            d[0], d[1], d[2], d[3]
        );
        assert!(d.iter().all(|&e| e <= 1e-5), "{c_in}->{c_out} at {hw}x{hw}: relative differences {d:?}");
    }
}
