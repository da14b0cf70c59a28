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
            let _ = a.g_mul_scalar_(RHO).g_add_(&(g.square() * (1.0 - RHO)));
            let _ = p.g_sub_(&(g * self.lr / (a.sqrt() + EPSILON)));
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
