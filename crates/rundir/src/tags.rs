//! The TensorBoard tags a run logs (docs/SPEC.md "What gets logged"), for the writer and every reader.

/// The six losses, in the order training reports them.
pub const LOSS_TAGS: [&str; 6] =
    ["D_real_is_fake", "D_real_class", "D_fake_is_fake", "D_fake_class", "DG_is_fake", "DG_class"];
/// -D_real_is_fake - D_fake_is_fake: the critic's Wasserstein estimate, under the article's name.
pub const D_LOSS: &str = "D loss (-1*D_real_is_fake - D_fake_is_fake)";
/// The judge's scores (with `--eval-every`).
pub const CONDITIONAL_ACCURACY: &str = "eval/conditional_accuracy";
pub const FID: &str = "eval/fid";
/// A text naming the judge (its SHA-256) that made the scores.
pub const JUDGE: &str = "eval/judge";
/// The sample grid, as an image.
pub const SAMPLES: &str = "samples";
