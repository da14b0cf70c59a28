//! Every knob of a run in one struct: the SPEC's constants as flags with the seed's defaults.
//! Written to `<run>/config.json` so a run can be read back, resumed and compared.

use clap::parser::ValueSource;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(clap::Args, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Config {
    /// RNG seed. The same seed and settings give the same run, bit for bit on the CPU.
    #[arg(long, default_value_t = 777)]
    pub seed: u64,
    /// Run name: everything of the run lives in <runs-dir>/<run>/.
    #[arg(long, default_value = "B")]
    pub run: String,
    /// Directory holding the runs (point TensorBoard at it).
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// Directory with the four MNIST IDX files (verified by SHA-256 before training).
    #[arg(long, default_value = data::DEFAULT_DIR)]
    pub data_dir: PathBuf,
    /// Images per critic and generator batch.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..))]
    pub batch_size: i64,
    /// Generator iterations to run in all (a resumed run may raise it).
    #[arg(long, default_value_t = 20000)]
    pub iterations: u64,
    /// Length of the latent vector z.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..))]
    pub z_size: i64,
    /// Critic iterations per generator iteration, normally.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub d_iters: u64,
    /// Critic iterations when it % 1000 < 25 or it % 500 == 0 (the seed's warm-up boosts).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub boost_d_iters: u64,
    /// Critic weights (and biases) are clipped to [-clip, clip] before each critic iteration.
    #[arg(long, default_value_t = 0.01)]
    pub clip: f64,
    /// RMSprop learning rate, both networks.
    #[arg(long, default_value_t = 5e-5)]
    pub lr: f64,
    /// Log the seven TensorBoard scalars every N iterations (at it % N == 0).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub log_every: u64,
    /// Write the 10x10 sample grid (PNG and TensorBoard) every N iterations.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..))]
    pub sample_every: u64,
    /// Checkpoint every N iterations (also at the end and on Ctrl-C).
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_every: u64,
    /// Score the generator with the judge classifier every N iterations (0: never). Logs
    /// eval/conditional_accuracy and eval/fid; needs `eval train-judge` first.
    #[arg(long, default_value_t = 0)]
    pub eval_every: u64,
    /// Samples per --eval-every evaluation (a multiple of 10; FID from fewer samples reads higher).
    #[arg(long, default_value_t = 1000)]
    pub eval_samples: i64,
    /// Compute G's upsample+5x5 convolutions literally instead of in the equivalent sub-pixel
    /// form (same function, ~2.8x the multiply-adds); for comparison.
    #[arg(long)]
    pub plain_upsample: bool,
}

/// Settings a resumed run may change: they do not alter what is computed, only when it stops,
/// what is logged, or how the same function is evaluated.
pub const CHANGEABLE_ON_RESUME: [&str; 7] =
    ["iterations", "log_every", "sample_every", "checkpoint_every", "eval_every", "eval_samples", "plain_upsample"];

impl Config {
    pub fn run_dir(&self) -> PathBuf {
        self.runs_dir.join(&self.run)
    }

    /// On resume, the saved settings hold; flags given on the command line may change only
    /// `CHANGEABLE_ON_RESUME` (and `runs_dir`, `data_dir`, which name places, not settings).
    pub fn resumed(saved: &Config, given: &Config, matches: &clap::ArgMatches) -> anyhow::Result<Config> {
        let (saved_json, given_json) = (serde_json::to_value(saved)?, serde_json::to_value(given)?);
        let mut merged = saved_json.clone();
        let mut refused = Vec::new();
        for (key, value) in given_json.as_object().unwrap() {
            let explicit = matches.value_source(key) == Some(ValueSource::CommandLine);
            if !explicit || saved_json[key] == *value {
                continue;
            }
            if CHANGEABLE_ON_RESUME.contains(&key.as_str()) || key == "runs_dir" || key == "data_dir" {
                merged[key] = value.clone();
            } else {
                refused.push(format!("--{} {} (the run has {})", key.replace('_', "-"), value, saved_json[key]));
            }
        }
        anyhow::ensure!(
            refused.is_empty(),
            "a resumed run keeps its settings, but these differ: {}. Only --{} may change on resume.",
            refused.join(", "),
            CHANGEABLE_ON_RESUME.join(", --").replace('_', "-")
        );
        Ok(serde_json::from_value(merged)?)
    }
}
