//! Every knob of a run in one struct: the SPEC's constants as flags with the seed's defaults.
//! Written to `<run>/config.json` so a run can be read back, resumed and compared. Each flag is
//! checked when it is parsed, so nonsense is refused before anything is created or allocated.

use clap::parser::ValueSource;
use model::{Precision, Upsample};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The GAN's training set has 70,000 images; a batch holds distinct ones.
pub const MAX_BATCH: i64 = 70_000;

#[derive(clap::Args, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Config {
    /// RNG seed. The same seed and settings give the same run, bit for bit on the CPU.
    #[arg(long, default_value_t = 777)]
    pub seed: u64,
    /// Run name, a plain name (letters, digits, '.', '_', '-'): everything of the run lives in
    /// <runs-dir>/<run>/.
    #[arg(long, default_value = "B", value_parser = model::cli::run_name)]
    pub run: String,
    /// Directory holding the runs (point TensorBoard at it).
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// Directory with the four MNIST IDX files (verified by SHA-256 before training).
    #[arg(long, default_value = data::DEFAULT_DIR)]
    pub data_dir: PathBuf,
    /// The judge classifier used by --eval-every (made by `eval train-judge`).
    #[arg(long, default_value = eval::DEFAULT_JUDGE_DIR)]
    #[serde(default = "default_judge_dir")]
    pub judge_dir: PathBuf,
    /// Images per critic and generator batch (at most 70,000, the training set).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=MAX_BATCH))]
    pub batch_size: i64,
    /// Generator iterations to run in all (a resumed run may raise it).
    #[arg(long, default_value_t = 20000, value_parser = clap::value_parser!(u64).range(1..))]
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
    /// Critic weights (and biases) are clipped to [-clip, clip] before each critic iteration
    /// (a finite number > 0).
    #[arg(long, default_value_t = 0.01, value_parser = positive_finite, allow_hyphen_values = true)]
    pub clip: f64,
    /// RMSprop learning rate, both networks (a finite number > 0).
    #[arg(long, default_value_t = 5e-5, value_parser = positive_finite, allow_hyphen_values = true)]
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
    #[arg(long, default_value_t = 1000, value_parser = eval_samples)]
    pub eval_samples: i64,
    /// How G computes its upsample+5x5 convolutions: `subpixel` (the same function with 36% of
    /// the multiply-adds) or `plain` (literally; for comparison).
    #[arg(long, value_enum, default_value_t = Upsample::SubPixel)]
    #[serde(default)]
    pub upsample: Upsample,
    /// Arithmetic: `fp32`, or `bf16` mixed precision (bf16 convolutions and matrix products;
    /// fp32 weights, optimizer, clipping and losses). May change on resume.
    #[arg(long, value_enum, default_value_t = Precision::Fp32)]
    #[serde(default)]
    pub precision: Precision,
    /// On CUDA, let fp32 matrix products and convolutions use TF32 tensor cores (off: exact fp32).
    #[arg(long)]
    #[serde(default)]
    pub tf32: bool,
    /// CPU threads of libtorch's operations (0: one per core, libtorch's default). The number used
    /// is recorded and reused on resume: on the CPU it changes the rounding of matrix products
    /// and convolutions, so the same seed is bit-exact only with the same thread count.
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub threads: usize,
    /// Train what the article's Keras 2.0 code computed, quirks included: the generator step also
    /// moves the critic (with its own RMSprop state), and the class loss is Keras's clipped
    /// softmax cross-entropy. Default: the SPEC's intended algorithm.
    #[arg(long)]
    #[serde(default)]
    pub as_published: bool,
}

fn default_judge_dir() -> PathBuf {
    eval::DEFAULT_JUDGE_DIR.into()
}

/// Settings a resumed run may change: they do not alter what is computed, only when it stops,
/// what is logged, or how (in which arithmetic, on how many threads) the same function is
/// evaluated. Changing the last kind ends bit-exactness with an uninterrupted run.
pub const CHANGEABLE_ON_RESUME: [&str; 10] = [
    "iterations",
    "log_every",
    "sample_every",
    "checkpoint_every",
    "eval_every",
    "eval_samples",
    "upsample",
    "precision",
    "tf32",
    "threads",
];

/// Keys that name places, not settings: a moved, renamed or copied run resumes where it is now.
const PLACES: [&str; 4] = ["run", "runs_dir", "data_dir", "judge_dir"];

fn positive_finite(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(_) => Err("must be a finite number > 0".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn eval_samples(s: &str) -> Result<i64, String> {
    match s.parse::<i64>() {
        Ok(n) if n > 0 && n % 10 == 0 && n <= 100_000 => Ok(n),
        Ok(_) => Err("must be a positive multiple of 10 (equal per class), at most 100000".into()),
        Err(e) => Err(e.to_string()),
    }
}

impl Config {
    pub fn run_dir(&self) -> PathBuf {
        self.runs_dir.join(&self.run)
    }

    /// Sets libtorch's thread count from `threads`, first filling in libtorch's default when it
    /// is 0, so that the number recorded is the number used.
    pub fn apply_threads(&mut self) {
        if self.threads == 0 {
            self.threads = tch::get_num_threads().max(1) as usize;
        }
        tch::set_num_threads(self.threads as i32);
    }

    /// On resume, the saved settings hold; flags given on the command line may change only
    /// `CHANGEABLE_ON_RESUME` and the places (`PLACES`).
    pub fn resumed(saved: &Config, given: &Config, matches: &clap::ArgMatches) -> anyhow::Result<Config> {
        let (saved_json, given_json) = (serde_json::to_value(saved)?, serde_json::to_value(given)?);
        let mut merged = saved_json.clone();
        let mut refused = Vec::new();
        for (key, value) in given_json.as_object().expect("a config is a JSON object") {
            let explicit = matches.value_source(key) == Some(ValueSource::CommandLine);
            if !explicit || saved_json[key] == *value {
                continue;
            }
            if CHANGEABLE_ON_RESUME.contains(&key.as_str()) || PLACES.contains(&key.as_str()) {
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
