//! The as-published mode's class loss: Keras 2.0's sparse categorical cross-entropy, checked
//! against a hand computation, in an ordinary and a saturated case.

use tch::{Kind, Tensor};
use train::losses::class_loss;

fn loss_and_grad(logits: &[f32], class: i64, keras: bool) -> (f64, Vec<f64>) {
    let x = Tensor::from_slice(logits).view([1, -1]).set_requires_grad(true);
    let loss = class_loss(&x, &Tensor::from_slice(&[class]), keras);
    loss.backward();
    (loss.double_value(&[]), Vec::<f64>::try_from(x.grad().view([-1]).to_kind(Kind::Double)).unwrap())
}

#[test]
fn keras_cross_entropy_by_hand() {
    // Ordinary logits: no probability is clipped, so -log p[y] + log Σp = -log p[y], as on logits;
    // the gradient is softmax - onehot.
    let logits = [1.0f32, 2.0, 0.5];
    let e: Vec<f64> = logits.iter().map(|&v| (v as f64).exp()).collect();
    let p: Vec<f64> = e.iter().map(|v| v / e.iter().sum::<f64>()).collect();
    let (loss, grad) = loss_and_grad(&logits, 2, true);
    assert!((loss - -(p[2].ln())).abs() < 1e-6, "{loss} vs {}", -(p[2].ln()));
    for (k, g) in grad.iter().enumerate() {
        let want = p[k] - if k == 2 { 1.0 } else { 0.0 };
        assert!((g - want).abs() < 1e-6, "gradient {k}: {g} vs {want}");
    }
    let (logits_loss, _) = loss_and_grad(&logits, 2, false);
    assert!((loss - logits_loss).abs() < 1e-6);

    // Saturated: softmax gives (1 - 2e-13, 9e-14, 9e-14); clipped to (1 - 1e-7, 1e-7, 1e-7), so
    // the loss is -log(1e-7) + log(1 + 1e-7), near the cap, where the exact loss is 30. Every
    // probability is clipped, so no gradient passes.
    let (loss, grad) = loss_and_grad(&[30.0, 0.0, 0.0], 1, true);
    let one_minus_eps = (1.0f32 - 1e-7f32) as f64; // the clip's upper bound, in float32
    let want = -(1e-7f32 as f64).ln() + (one_minus_eps + 2.0 * 1e-7f32 as f64).ln();
    assert!((loss - want).abs() < 1e-5, "{loss} vs {want}");
    assert!(loss < 16.12 && loss > 16.11);
    assert!(grad.iter().all(|&g| g == 0.0), "a clipped probability passes a gradient: {grad:?}");
    let (logits_loss, _) = loss_and_grad(&[30.0, 0.0, 0.0], 1, false);
    assert!((logits_loss - 30.0).abs() < 1e-5, "{logits_loss}");
}
