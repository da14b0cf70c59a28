//! Fréchet distance between Gaussians fitted to two feature sets, in float64:
//! `|mu1 - mu2|² + tr(S1 + S2 - 2 (S1 S2)^½)`.
//!
//! `(S1 S2)^½` is not symmetric and a general matrix square root of it is the numerically weak
//! step of the usual implementations. Its trace equals `tr (S1^½ S2 S1^½)^½`, where the inner
//! matrix is symmetric positive semi-definite, so two symmetric eigendecompositions (libtorch's
//! `linalg_eigh`) give it stably; eigenvalues that round below zero are clamped to zero.

use tch::{Kind, Tensor};

/// Mean `[d]` and unbiased covariance `[d, d]` of features `[n, d]`, in float64.
pub struct Stats {
    pub mean: Tensor,
    pub cov: Tensor,
}

impl Stats {
    pub fn of(features: &Tensor) -> Stats {
        let x = features.to_kind(Kind::Double);
        let n = x.size()[0];
        assert!(n > 1, "covariance needs at least two feature vectors");
        let mean = x.mean_dim(0, false, Kind::Double);
        let centered = &x - &mean;
        let cov = centered.tr().matmul(&centered) / (n - 1) as f64;
        Stats { mean, cov }
    }
}

/// `A^½` of a symmetric positive semi-definite matrix.
fn sqrt_psd(a: &Tensor) -> Tensor {
    let (eigenvalues, v) = a.linalg_eigh("L");
    (&v * eigenvalues.clamp_min(0.0).sqrt().unsqueeze(0)).matmul(&v.tr())
}

pub fn frechet_distance(a: &Stats, b: &Stats) -> f64 {
    let diff = (&a.mean - &b.mean).square().sum(Kind::Double);
    let root_a = sqrt_psd(&a.cov);
    let inner = root_a.matmul(&b.cov).matmul(&root_a);
    let inner = (&inner + inner.tr()) / 2.0; // symmetric up to rounding; make it exactly so
    let trace_sqrt = inner.linalg_eigvalsh("L").clamp_min(0.0).sqrt().sum(Kind::Double);
    let value = diff + a.cov.trace() + b.cov.trace() - trace_sqrt * 2.0;
    value.double_value(&[]).max(0.0)
}
