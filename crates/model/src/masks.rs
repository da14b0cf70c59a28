//! Dropout masks on the CPU, drawn here rather than by libtorch: libtorch's CPU generator
//! (mt19937) is serial, and drawing one uniform float per element took a third of the critic's
//! forward pass. The masks are the same Bernoulli draws as libtorch's `uniform >= p` (keep when a
//! 24-bit uniform integer k satisfies k >= ceil(p * 2^24), the grid of libtorch's float uniforms),
//! from a xoshiro256++ stream (the `rand_xoshiro` crate), two draws per 64-bit number. One draw of
//! libtorch's generator seeds each mask, so masks follow the run's per-iteration seeds and resume
//! exactly. Elements are drawn in logical (N, C, H, W) order and written where the activations'
//! layout keeps them (channels-last in the critic), so the mask depends neither on the layout nor
//! on the precision, and needs no second pass to be laid out. The loop runs on the calling thread:
//! a second thread pool beside libtorch's OpenMP threads slowed the whole critic step by a third
//! on 2 cores.

use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use tch::{Device, Kind, Tensor};

const GRID: f64 = (1u64 << 24) as f64;

/// `x`'s inverted-dropout multipliers: 0 where a unit is dropped (probability `p`), 1/(1-p)
/// elsewhere, in `x`'s precision and memory layout. `x` is a CPU tensor.
pub fn keep_scaled(x: &Tensor, p: f64) -> Tensor {
    assert_eq!(x.device(), Device::Cpu, "masks are drawn in host memory");
    let seed = Tensor::randint(i64::MAX, [1], (Kind::Int64, Device::Cpu)).int64_value(&[0]) as u64;
    // libtorch compares its float uniforms with p as a float.
    let threshold = ((p as f32) as f64 * GRID).ceil() as u32;
    let scale = (1.0 / (1.0 - p)) as f32;
    // Laid out as `x` when `x` is dense, else contiguous: dense either way.
    let mask = x.empty_like();
    let layout = Layout::of(&mask);
    // SAFETY: `mask` is a new dense CPU tensor of the matched element type; `Layout::of` checked
    // that its offsets lie within its `len` elements.
    unsafe {
        match x.kind() {
            Kind::BFloat16 => {
                let out = std::slice::from_raw_parts_mut(mask.data_ptr() as *mut half::bf16, layout.len);
                fill(out, &layout, seed, threshold, half::bf16::from_f32(scale), half::bf16::ZERO)
            }
            Kind::Float => {
                let out = std::slice::from_raw_parts_mut(mask.data_ptr() as *mut f32, layout.len);
                fill(out, &layout, seed, threshold, scale, 0.0)
            }
            other => panic!("dropout on {other:?} activations: the networks compute in fp32 or bf16"),
        }
    }
    mask
}

/// Fills `out` (memory laid out as `layout`): `keep` where the element's 24-bit uniform, drawn in
/// logical order, is >= `threshold`, else `drop`.
fn fill<T: Copy>(out: &mut [T], layout: &Layout, seed: u64, threshold: u32, keep: T, drop: T) {
    let mut uniforms = Uniforms24::new(seed);
    layout.for_each_offset(|o| out[o] = if uniforms.next() >= threshold { keep } else { drop })
}

/// 24-bit uniform integers, two from each 64-bit draw of xoshiro256++ (its high bits).
struct Uniforms24 {
    rng: Xoshiro256PlusPlus,
    second: Option<u32>,
}

impl Uniforms24 {
    fn new(seed: u64) -> Uniforms24 {
        Uniforms24 { rng: Xoshiro256PlusPlus::seed_from_u64(seed), second: None }
    }

    fn next(&mut self) -> u32 {
        if let Some(k) = self.second.take() {
            return k;
        }
        let r = self.rng.next_u64();
        self.second = Some(((r >> 16) & 0xFF_FFFF) as u32);
        (r >> 40) as u32
    }
}

/// Where a dense tensor keeps each element, visited in logical (row-major) order.
struct Layout {
    size: Vec<usize>,
    stride: Vec<usize>,
    len: usize,
}

impl Layout {
    fn of(t: &Tensor) -> Layout {
        let size: Vec<usize> = t.size().iter().map(|&s| s as usize).collect();
        let stride: Vec<usize> = t.stride().iter().map(|&s| s as usize).collect();
        let len = size.iter().product();
        let last = size.iter().zip(&stride).map(|(n, s)| n.saturating_sub(1) * s).sum::<usize>();
        assert!(len == 0 || last + 1 == len, "a new tensor is dense: sizes {size:?}, strides {stride:?}");
        Layout { size, stride, len }
    }

    /// Calls `f` with the memory offset of every element, the last dimension innermost.
    fn for_each_offset(&self, mut f: impl FnMut(usize)) {
        if self.len == 0 {
            return;
        }
        let Some((&inner, outer)) = self.size.split_last() else {
            return f(0);
        };
        let inner_stride = self.stride[outer.len()];
        let mut index = vec![0; outer.len()];
        let mut base = 0;
        loop {
            (0..inner).for_each(|j| f(base + j * inner_stride));
            // Advance the outer dimensions like an odometer.
            let mut d = outer.len();
            loop {
                if d == 0 {
                    return;
                }
                d -= 1;
                index[d] += 1;
                base += self.stride[d];
                if index[d] < outer[d] {
                    break;
                }
                base -= self.stride[d] * outer[d];
                index[d] = 0;
            }
        }
    }
}
