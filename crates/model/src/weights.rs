//! Tensors from safetensors files into the networks (and their optimizers' state), checked: a
//! file that does not fit (a tensor missing, of another shape, or one too many) or that holds a
//! NaN or an infinity is refused with the file and tensor named, before anything is copied.

use anyhow::{ensure, Context, Result};
use std::path::Path;
use tch::{nn, Tensor};

/// Copies the tensors of `file` into `targets` (name, destination), after checking that the file
/// holds exactly those names, each of its destination's shape, all finite.
pub fn load_into(file: &Path, targets: &[(String, Tensor)]) -> Result<()> {
    let saved = Tensor::read_safetensors(file).with_context(|| format!("cannot read {}", file.display()))?;
    for (name, target) in targets {
        let (_, t) = saved
            .iter()
            .find(|(n, _)| n == name)
            .with_context(|| format!("{} has no tensor {name}: it does not fit this model", file.display()))?;
        ensure!(
            t.size() == target.size(),
            "{}: {name} has shape {:?}, this model's has {:?}: it does not fit this model",
            file.display(),
            t.size(),
            target.size()
        );
        ensure_finite(file, name, t)?;
    }
    let extra: Vec<&str> =
        saved.iter().map(|(n, _)| n.as_str()).filter(|n| !targets.iter().any(|(t, _)| t == n)).collect();
    ensure!(extra.is_empty(), "{} holds tensors this model does not have: {}", file.display(), extra.join(", "));
    let _guard = tch::no_grad_guard();
    for (name, target) in targets {
        let (_, t) = saved.iter().find(|(n, _)| n == name).expect("checked above");
        target.shallow_clone().f_copy_(t).with_context(|| format!("cannot load {name} from {}", file.display()))?;
    }
    Ok(())
}

/// Every variable of `vs`, by name, from `file`.
pub fn load_var_store(vs: &nn::VarStore, file: &Path) -> Result<()> {
    let mut targets: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    targets.sort_by(|a, b| a.0.cmp(&b.0));
    load_into(file, &targets)
}

/// Refuses a tensor holding NaN or infinity (a diverged run's weights).
pub fn ensure_finite(file: &Path, name: &str, t: &Tensor) -> Result<()> {
    if !t.is_floating_point() {
        return Ok(());
    }
    let bad = t.isfinite().logical_not().sum(tch::Kind::Int64).int64_value(&[]);
    ensure!(
        bad == 0,
        "{}: {name} holds {bad} non-finite values (NaN or infinity): these weights are unusable",
        file.display()
    );
    Ok(())
}
