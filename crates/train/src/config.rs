//! Every knob of a run, as flags with the article's defaults (docs/SPEC.md "Constants"), in four groups
//! that say what a resumed run may change: the `Experiment` (what is computed) never; the
//! `Cadence` (when it stops, logs, samples, checkpoints, evaluates) and the `Arithmetic` (how
//! the same function is evaluated) when a flag says so; the `Places` are always where the run is
//! now. Written flat to `<run>/config.json`, and read back through the same flag parser, so that a
//! recorded value passes exactly the checks a typed one does.

use anyhow::{bail, Context, Result};
use clap::parser::ValueSource;
use clap::{Args, FromArgMatches};
use model::{Precision, Upsample};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The GAN's training set has 70,000 images; a batch holds distinct ones.
pub const MAX_BATCH: i64 = 70_000;
/// Bounds on counts, so that no value can overflow a computation or ask for absurd work.
pub const MAX_ITERATIONS: u64 = 100_000_000;
pub const MAX_CRITIC_ITERS: u64 = 100_000;
pub const MAX_THREADS: usize = 1024;

#[derive(Args, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Config {
    #[command(flatten)]
    #[serde(flatten)]
    pub experiment: Experiment,
    #[command(flatten)]
    #[serde(flatten)]
    pub cadence: Cadence,
    #[command(flatten)]
    #[serde(flatten)]
    pub arithmetic: Arithmetic,
    #[command(flatten)]
    #[serde(flatten)]
    pub places: Places,
}

/// What is computed: fixed for the life of a run.
#[derive(Args, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Experiment {
    /// RNG seed. The same seed and settings give the same run, bit for bit on the CPU.
    #[arg(long, default_value_t = 777)]
    pub seed: u64,
    /// Images per critic and generator batch (at most 70,000, the training set).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=MAX_BATCH))]
    pub batch_size: i64,
    /// Length of the latent vector z.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    pub z_size: i64,
    /// Critic iterations per generator iteration, normally.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=MAX_CRITIC_ITERS))]
    pub d_iters: u64,
    /// Critic iterations when it % 1000 < 25 or it % 500 == 0 (the article's warm-up boosts).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=MAX_CRITIC_ITERS))]
    pub boost_d_iters: u64,
    /// Critic weights (and biases) are clipped to [-clip, clip] before each critic iteration
    /// (a finite number > 0).
    #[arg(long, default_value_t = 0.01, value_parser = cli::parse::positive_finite, allow_hyphen_values = true)]
    pub clip: f64,
    /// RMSprop learning rate, both networks (a finite number > 0).
    #[arg(long, default_value_t = 5e-5, value_parser = cli::parse::positive_finite, allow_hyphen_values = true)]
    pub lr: f64,
    /// Train what the article's Keras 2.0 code computed, quirks included: the generator step also
    /// moves the critic (with its own RMSprop state), and the class loss is Keras's clipped
    /// softmax cross-entropy. Default: the intended algorithm (docs/SPEC.md "Two modes").
    #[arg(long)]
    #[serde(default)]
    pub as_published: bool,
}

/// When the run stops, logs, samples, checkpoints and evaluates: a resumed run may change it.
#[derive(Args, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Cadence {
    /// Generator iterations to run in all (a resumed run may raise it).
    #[arg(long, default_value_t = 20000, value_parser = clap::value_parser!(u64).range(1..=MAX_ITERATIONS))]
    pub iterations: u64,
    /// Log the seven TensorBoard scalars every N iterations (at it % N == 0).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub log_every: u64,
    /// Write the 10x10 sample grid (PNG and TensorBoard) every N iterations.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..))]
    pub sample_every: u64,
    /// Checkpoint every N iterations (also at the end and on Ctrl-C); the newest 3 are kept.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_every: u64,
    /// Also keep, for good, the checkpoints after a multiple of N iterations (0: none), e.g. to
    /// score them later.
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub keep_every: u64,
    /// Score the generator with the judge classifier every N iterations (0: never). Logs
    /// eval/conditional_accuracy and eval/fid; needs `eval train-judge` first.
    #[arg(long, default_value_t = 0)]
    pub eval_every: u64,
    /// Samples per --eval-every evaluation (a multiple of 10; FID from fewer samples reads higher).
    #[arg(long, default_value_t = 1000, value_parser = eval_samples)]
    pub eval_samples: i64,
}

/// How the same function is evaluated: a resumed run may change it (which ends bit-exactness with
/// an uninterrupted run).
#[derive(Args, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Arithmetic {
    /// How G computes its upsample+5x5 convolutions: `subpixel` (the same function with 36% of
    /// the multiply-adds) or `plain` (literally; for comparison).
    #[arg(long, default_value = "subpixel", value_parser = cli::parse::one_of::<Upsample>(Upsample::NAMES))]
    #[serde(default)]
    pub upsample: Upsample,
    /// Arithmetic: `fp32`, or `bf16` mixed precision (bf16 convolutions and matrix products;
    /// fp32 weights, optimizer, clipping and losses).
    #[arg(long, default_value = "fp32", value_parser = cli::parse::one_of::<Precision>(Precision::NAMES))]
    #[serde(default)]
    pub precision: Precision,
    /// On CUDA, let fp32 matrix products and convolutions use TF32 tensor cores (off: exact fp32).
    #[arg(long)]
    #[serde(default)]
    pub tf32: bool,
    /// CPU threads of libtorch's operations (0: one per core, libtorch's default; at most 1024).
    /// The number used is recorded and reused on resume: on the CPU it changes the rounding of
    /// matrix products and convolutions, so the same seed is bit-exact only with the same count.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=MAX_THREADS as u64))]
    #[serde(default)]
    pub threads: u64,
}

/// Where things are: never taken from a run's record, so that a moved or copied run is trained
/// where it is now, and nothing else is touched.
#[derive(Args, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Places {
    /// Run name, a plain name (letters, digits, '.', '_', '-'): everything of the run lives in
    /// <runs-dir>/<run>/.
    #[arg(long, default_value = "B", value_parser = cli::parse::run_name)]
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
}

fn default_judge_dir() -> PathBuf {
    eval::DEFAULT_JUDGE_DIR.into()
}

fn eval_samples(s: &str) -> Result<i64, String> {
    match s.parse::<i64>() {
        Ok(n) if n > 0 && n % 10 == 0 && n <= 100_000 => Ok(n),
        Ok(_) => Err("must be a positive multiple of 10 (equal per class), at most 100000".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// The flag parser of `Config` alone (also used to read records and to check sweeps).
pub fn parser() -> clap::Command {
    Config::augment_args(clap::Command::new("train")).no_binary_name(true).allow_negative_numbers(true)
}

/// A record's JSON value as the command-line words that set it (`--tf32` for true; nothing for
/// false or null).
fn as_flag(key: &str, value: &Value) -> Result<Vec<String>, String> {
    let flag = format!("--{}", key.replace('_', "-"));
    match value {
        Value::Bool(true) => Ok(vec![flag]),
        Value::Bool(false) | Value::Null => Ok(vec![]),
        Value::Number(n) => Ok(vec![flag, n.to_string()]),
        Value::String(s) => Ok(vec![flag, s.clone()]),
        _ => Err(format!("{value} is not a flag's value")),
    }
}

impl Config {
    pub fn run_dir(&self) -> PathBuf {
        self.places.runs_dir.join(&self.places.run)
    }

    /// The settings recorded in `file` (a run's config.json), each checked by the flag parser as
    /// if typed; an error names the file and the key. Places are not read: they are `places`.
    pub fn from_record(recorded: &Value, file: &Path, places: &Places) -> Result<Config> {
        let map = recorded.as_object().with_context(|| format!("{}: \"config\" is not an object", file.display()))?;
        let place_keys = ["run", "runs_dir", "data_dir", "judge_dir"];
        let mut words = Vec::new();
        for (key, value) in map.iter().filter(|(k, _)| !place_keys.contains(&k.as_str())) {
            let refuse = |why: String| anyhow::anyhow!("{}: \"{key}\": {value} is refused: {why}", file.display());
            let flag = as_flag(key, value).map_err(refuse)?;
            let alone = parser().try_get_matches_from(&flag).map_err(|e| refuse(clap_reason(&e)))?;
            drop(alone);
            words.extend(flag);
        }
        let matches = parser()
            .try_get_matches_from(&words)
            .map_err(|e| anyhow::anyhow!("{}: {}", file.display(), clap_reason(&e)))?;
        let mut cfg = Config::from_arg_matches(&matches)?;
        cfg.places = places.clone();
        Ok(cfg)
    }

    /// Sets libtorch's thread count from `threads`, first filling in libtorch's default when it
    /// is 0, so that the number recorded is the number used.
    pub fn apply_threads(&mut self) {
        if self.arithmetic.threads == 0 {
            self.arithmetic.threads = tch::get_num_threads().max(1) as u64;
        }
        tch::set_num_threads(self.arithmetic.threads as i32);
    }

    /// On resume: the recorded experiment; the recorded cadence and arithmetic, with what the
    /// command line gives explicitly; the places of the command line. A flag that would change
    /// the experiment is refused, naming every such flag.
    pub fn resumed(recorded: &Config, given: &Config, matches: &clap::ArgMatches) -> Result<Config> {
        let explicit = |key: &str| matches.value_source(key) == Some(ValueSource::CommandLine);
        let differing = |saved: &Value, new: &Value| -> Vec<(String, Value, Value)> {
            let (saved, new) =
                (saved.as_object().cloned().unwrap_or_default(), new.as_object().cloned().unwrap_or_default());
            new.into_iter()
                .filter(|(k, v)| explicit(k) && saved.get(k) != Some(v))
                .map(|(k, v)| (k.clone(), saved.get(&k).cloned().unwrap_or(Value::Null), v))
                .collect()
        };
        let refused: Vec<String> =
            differing(&serde_json::to_value(&recorded.experiment)?, &serde_json::to_value(&given.experiment)?)
                .into_iter()
                .map(|(k, saved, new)| format!("--{} {new} (the run has {saved})", k.replace('_', "-")))
                .collect();
        if !refused.is_empty() {
            bail!(
                "a resumed run keeps its experiment, but these differ: {}. Only the cadence (--iterations, --log-every, \
                 --sample-every, --checkpoint-every, --keep-every, --eval-every, --eval-samples) and the arithmetic \
                 (--upsample, --precision, --tf32, --threads) may change on resume.",
                refused.join(", ")
            );
        }
        let overlay = |saved: &Value, new: &Value| -> Value {
            let mut merged: Map<String, Value> = saved.as_object().cloned().unwrap_or_default();
            for (k, _, v) in differing(saved, new) {
                merged.insert(k, v);
            }
            Value::Object(merged)
        };
        Ok(Config {
            experiment: recorded.experiment.clone(),
            cadence: serde_json::from_value(overlay(
                &serde_json::to_value(&recorded.cadence)?,
                &serde_json::to_value(&given.cadence)?,
            ))?,
            arithmetic: serde_json::from_value(overlay(
                &serde_json::to_value(&recorded.arithmetic)?,
                &serde_json::to_value(&given.arithmetic)?,
            ))?,
            places: given.places.clone(),
        })
    }
}

/// Clap's reason for refusing a value, without its usage lines.
fn clap_reason(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("").trim();
    first.trim_start_matches("error: ").to_string()
}
