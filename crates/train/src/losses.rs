//! The critic's class loss, in the two forms the project trains with.

use tch::{Kind, Tensor};

/// Keras 2.0 clips probabilities to [EPSILON, 1 - EPSILON] before taking their log.
pub const KERAS_EPSILON: f64 = 1e-7;

/// Mean cross-entropy of class `logits [N,10]` against `classes [N]`.
///
/// `keras`: as Keras 2.0's `sparse_categorical_crossentropy` on the softmax head computes it with
/// TensorFlow: `p = clip(softmax(x), 1e-7, 1 - 1e-7)`, then TF's
/// `sparse_softmax_cross_entropy_with_logits(labels=y, logits=log p)`, i.e.
/// `-log p[y] + log sum_j p[j]` per example. It caps near -log(1e-7) = 16.118, and a clipped
/// probability passes no gradient. Otherwise the exact cross-entropy on the logits (docs/SPEC.md "One generator iteration").
pub fn class_loss(logits: &Tensor, classes: &Tensor, keras: bool) -> Tensor {
    if !keras {
        return logits.cross_entropy_for_logits(classes);
    }
    let log_p = logits.softmax(-1, Kind::Float).clamp(KERAS_EPSILON, 1.0 - KERAS_EPSILON).log();
    let picked = log_p.gather(1, &classes.unsqueeze(1), false).squeeze_dim(1);
    (log_p.logsumexp([-1], false) - picked).mean(Kind::Float)
}
