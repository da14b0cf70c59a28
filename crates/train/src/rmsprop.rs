//! RMSprop exactly as Keras 2.0 has it (docs/SPEC.md "One generator iteration"): per parameter `a = 0.9a + 0.1g²`,
//! `p -= lr·g/(√a + 1e-8)`, `a` starting at 0. tch's optimizers differ (alpha 0.99, eps inside
//! the root in places) and cannot save their state, so this one is written here, and its state
//! is a set of named tensors that checkpoints carry.

use anyhow::{Context, Result};
use std::path::Path;
use tch::{nn, Tensor};

pub const RHO: f64 = 0.9;
pub const EPSILON: f64 = 1e-8;

pub struct RmsProp {
    lr: f64,
    /// (name, parameter, accumulator), in name order.
    slots: Vec<(String, Tensor, Tensor)>,
}

impl RmsProp {
    /// One accumulator per trainable variable of `vs`, zeroed.
    pub fn new(vs: &nn::VarStore, lr: f64) -> RmsProp {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let slots = vars.into_iter().map(|(name, p)| (name, p.shallow_clone(), p.zeros_like())).collect();
        RmsProp { lr, slots }
    }

    /// The parameters, in the order `step` takes gradients.
    pub fn params(&self) -> Vec<&Tensor> {
        self.slots.iter().map(|(_, p, _)| p).collect()
    }

    /// Applies one update from `grads` (one per parameter, `params()` order).
    pub fn step(&mut self, grads: &[Tensor]) {
        let _guard = tch::no_grad_guard();
        for ((_, p, a), g) in self.slots.iter_mut().zip(grads) {
            if fused::applies(p, a) {
                fused::step(p, a, &g.contiguous(), self.lr);
            } else {
                let _ = a.g_mul_scalar_(RHO).g_add_(&(g.square() * (1.0 - RHO)));
                let _ = p.g_sub_(&(g * self.lr / (a.sqrt() + EPSILON)));
            }
        }
    }

    /// Gradients of `loss` w.r.t. this optimizer's parameters only, then one update. Nothing
    /// accumulates in any other tensor's `.grad`, so a network this does not own stays untouched.
    pub fn minimize(&mut self, loss: &Tensor) {
        minimize_jointly(loss, &mut [self]);
    }

    /// Copies of the accumulators, in `params()` order.
    pub fn accumulators(&self) -> Vec<Tensor> {
        self.slots.iter().map(|(_, _, a)| a.copy()).collect()
    }

    /// Number of parameters (and accumulators).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let named: Vec<(&str, &Tensor)> = self.slots.iter().map(|(n, _, a)| (n.as_str(), a)).collect();
        Tensor::write_safetensors(&named, path).with_context(|| format!("cannot write {}", path.display()))
    }

    /// Loads the accumulators saved by `save`, checked to fit these parameters and to be finite.
    pub fn load(&mut self, path: &Path) -> Result<()> {
        let targets: Vec<(String, Tensor)> =
            self.slots.iter().map(|(n, _, a)| (n.clone(), a.shallow_clone())).collect();
        model::weights::load_into(path, &targets)
    }
}

/// One gradient of `loss` w.r.t. the parameters of all `optimizers` (a single backward pass), then
/// each optimizer's update with its own state: Keras's combined model training two networks.
pub fn minimize_jointly(loss: &Tensor, optimizers: &mut [&mut RmsProp]) {
    let grads = {
        let params: Vec<&Tensor> = optimizers.iter().flat_map(|o| o.params()).collect();
        Tensor::run_backward(&[loss], &params, false, false)
    };
    let mut rest = grads.as_slice();
    for opt in optimizers {
        let (mine, others) = rest.split_at(opt.len());
        opt.step(mine);
        rest = others;
    }
}

/// The update in one pass over each parameter's memory on the CPU, where libtorch's operators take
/// nine passes and their temporaries (RMSprop of G's 8.2M parameters took 62 ms; tch has no fused
/// optimizer step to call). It computes exactly what those operators compute: the same float
/// operations in the same order, each correctly rounded (no fused multiply-add), with the
/// constants converted to float as libtorch converts scalars. `tests/loop_parts.rs` checks the two:
/// the accumulators bit for bit, the parameters to within the ulp by which libtorch's square root
/// (MKL's) misses the correctly rounded one.
mod fused {
    use super::{EPSILON, RHO};
    use tch::{Device, Kind, Tensor};

    pub fn applies(p: &Tensor, a: &Tensor) -> bool {
        let ok = |t: &Tensor| t.device() == Device::Cpu && t.kind() == Kind::Float && t.is_contiguous();
        ok(p) && ok(a)
    }

    /// `p` and `a` contiguous float CPU tensors, `g` contiguous and of their shape.
    pub fn step(p: &Tensor, a: &Tensor, g: &Tensor, lr: f64) {
        assert!(
            g.size() == p.size() && g.kind() == Kind::Float && g.device() == Device::Cpu,
            "a gradient of another shape"
        );
        let n = p.numel();
        // SAFETY: the three tensors are contiguous float CPU tensors of n elements each, p and a are
        // distinct storages owned by the optimizer, g a separate gradient, and nothing else runs
        // on them during the step (autograd is off).
        let (p, a, g) = unsafe {
            (
                std::slice::from_raw_parts_mut(p.data_ptr() as *mut f32, n),
                std::slice::from_raw_parts_mut(a.data_ptr() as *mut f32, n),
                std::slice::from_raw_parts(g.data_ptr() as *const f32, n),
            )
        };
        let (rho, one_minus_rho, eps, lr) = (RHO as f32, (1.0 - RHO) as f32, EPSILON as f32, lr as f32);
        // On the calling thread: a second thread pool beside libtorch's OpenMP threads costs more
        // than it gains on few cores.
        for ((p, a), &g) in p.iter_mut().zip(a.iter_mut()).zip(g) {
            *a = *a * rho + (g * g) * one_minus_rho;
            *p -= g * lr / (a.sqrt() + eps);
        }
    }
}
