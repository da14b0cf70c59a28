//! The Fréchet distance against closed forms.

use eval::fid::{frechet_distance, Stats};
use tch::{Device, Kind, Tensor};

const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

fn stats(mean: &Tensor, cov: &Tensor) -> Stats {
    Stats { mean: mean.shallow_clone(), cov: cov.shallow_clone() }
}

fn random_orthogonal(d: i64) -> Tensor {
    Tensor::linalg_qr(&Tensor::randn([d, d], F64), "reduced").0
}

#[test]
fn a_feature_set_against_itself_is_zero() {
    tch::manual_seed(20);
    let features = Tensor::randn([2000, 16], F64).matmul(&Tensor::randn([16, 16], F64)) + 3.0;
    let s = Stats::of(&features);
    // Zero up to float64 rounding, relative to the features' scale (the covariance's trace).
    let scale = s.cov.trace().double_value(&[]);
    assert!(frechet_distance(&s, &s) < 1e-10 * scale, "{} at scale {scale}", frechet_distance(&s, &s));
}

#[test]
fn covariances_sharing_eigenvectors_match_the_closed_form() {
    tch::manual_seed(21);
    let d = 12;
    let q = random_orthogonal(d);
    let (d1, d2) = (Tensor::rand([d], F64) * 4 + 0.1, Tensor::rand([d], F64) * 4 + 0.1);
    let cov = |diag: &Tensor| q.matmul(&diag.diag(0)).matmul(&q.tr());
    let (m1, m2) = (Tensor::randn([d], F64), Tensor::randn([d], F64));
    // tr sqrt(S1 S2) = sum sqrt(d1 d2) when S1, S2 share eigenvectors.
    let expected = ((&m1 - &m2).square().sum(Kind::Double) + (&d1 + &d2 - (&d1 * &d2).sqrt() * 2.0).sum(Kind::Double))
        .double_value(&[]);
    let got = frechet_distance(&stats(&m1, &cov(&d1)), &stats(&m2, &cov(&d2)));
    assert!((got - expected).abs() <= 1e-9 * expected, "{got} vs {expected}");
}

#[test]
fn non_commuting_2x2_covariances_match_the_closed_form() {
    // For a 2x2 matrix with non-negative eigenvalues, tr sqrt(A) = sqrt(tr A + 2 sqrt(det A)).
    tch::manual_seed(22);
    for _ in 0..20 {
        let (a, b) = (Tensor::randn([2, 2], F64), Tensor::randn([2, 2], F64));
        let (s1, s2) = (a.matmul(&a.tr()) + Tensor::eye(2, F64) * 0.01, b.matmul(&b.tr()) + Tensor::eye(2, F64) * 0.01);
        let p = s1.matmul(&s2);
        let tr_sqrt = (p.trace() + p.det().sqrt() * 2.0).sqrt().double_value(&[]);
        let (m1, m2) = (Tensor::randn([2], F64), Tensor::randn([2], F64));
        let expected = (&m1 - &m2).square().sum(Kind::Double).double_value(&[])
            + s1.trace().double_value(&[])
            + s2.trace().double_value(&[])
            - 2.0 * tr_sqrt;
        let got = frechet_distance(&stats(&m1, &s1), &stats(&m2, &s2));
        assert!((got - expected).abs() < 1e-9 * (1.0 + expected), "{got} vs {expected}");
    }
}

#[test]
fn sampled_gaussians_approach_the_closed_form() {
    tch::manual_seed(23);
    let d = 4;
    let q = random_orthogonal(d);
    let (d1, d2) = (Tensor::from_slice(&[1.0, 2.0, 0.5, 3.0]), Tensor::from_slice(&[2.0, 1.0, 1.0, 0.25]));
    let (m1, m2) = (Tensor::zeros([d], F64), Tensor::from_slice(&[1.0, 0.0, -1.0, 0.5]));
    let sample = |m: &Tensor, diag: &Tensor| (Tensor::randn([400_000, d], F64) * diag.sqrt()).matmul(&q.tr()) + m;
    let expected = 2.25 + (&d1 + &d2 - (&d1 * &d2).sqrt() * 2.0).sum(Kind::Double).double_value(&[]);
    let got = frechet_distance(&Stats::of(&sample(&m1, &d1)), &Stats::of(&sample(&m2, &d2)));
    assert!((got - expected).abs() < 0.02 * expected, "{got} vs {expected}");
}
