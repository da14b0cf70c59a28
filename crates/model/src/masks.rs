//! Dropout masks on the CPU, drawn here rather than by libtorch: libtorch's CPU generator
//! (mt19937) is serial, and drawing one uniform float per element took a third of the critic's
//! forward pass. The masks are the same Bernoulli draws as libtorch's `uniform >= p` (keep when a
//! 24-bit uniform integer k satisfies k >= ceil(p * 2^24), the grid of libtorch's float uniforms),
//! from a xoshiro256++ stream (the `rand_xoshiro` crate), two draws per 64-bit number. One draw of
//! libtorch's generator seeds each mask, so masks follow the run's per-iteration seeds and resume
//! exactly. Elements are drawn in logical (N, C, H, W) order, so the mask does not depend on the
//! memory layout or the precision of the activations. The loop runs on the calling thread: a
//! second thread pool beside libtorch's OpenMP threads slowed the whole critic step by a third
//! on 2 cores.

use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use tch::{Device, Kind, Tensor};

const GRID: f64 = (1u64 << 24) as f64;

/// `x`'s inverted-dropout multipliers: 0 where a unit is dropped (probability `p`), 1/(1-p)
/// elsewhere, in `x`'s precision and memory layout.
pub fn keep_scaled(x: &Tensor, p: f64) -> Tensor {
    let seed = Tensor::randint(i64::MAX, [1], (Kind::Int64, Device::Cpu)).int64_value(&[0]) as u64;
    // libtorch compares its float uniforms with p as a float.
    let threshold = ((p as f32) as f64 * GRID).ceil() as u32;
    let scale = (1.0 / (1.0 - p)) as f32;
    // Drawn straight into the mask's memory, in logical order: the memory order of a contiguous
    // tensor, which is then laid out as `x` is.
    let mask = Tensor::empty(x.size(), (x.kind(), Device::Cpu));
    let n = x.numel();
    // SAFETY: `mask` is a new contiguous CPU tensor of n elements of the matched element type.
    unsafe {
        match x.kind() {
            Kind::BFloat16 => {
                let out = std::slice::from_raw_parts_mut(mask.data_ptr() as *mut half::bf16, n);
                draw(out, seed, threshold, half::bf16::from_f32(scale), half::bf16::ZERO)
            }
            Kind::Float => {
                let out = std::slice::from_raw_parts_mut(mask.data_ptr() as *mut f32, n);
                draw(out, seed, threshold, scale, 0.0)
            }
            other => panic!("dropout on {other:?} activations: the networks compute in fp32 or bf16"),
        }
    }
    if mask.stride() == x.stride() {
        return mask;
    }
    let mut laid_out = x.empty_like();
    laid_out.copy_(&mask);
    laid_out
}

/// Fills `out`: `keep` where the element's 24-bit uniform is >= `threshold`, else `drop`.
fn draw<T: Copy>(out: &mut [T], seed: u64, threshold: u32, keep: T, drop: T) {
    let pick = |k: u64| if k as u32 >= threshold { keep } else { drop };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut pairs = out.chunks_exact_mut(2);
    for pair in &mut pairs {
        let r = rng.next_u64();
        pair[0] = pick(r >> 40);
        pair[1] = pick((r >> 16) & 0xFF_FFFF);
    }
    if let [last] = pairs.into_remainder() {
        *last = pick(rng.next_u64() >> 40);
    }
}
