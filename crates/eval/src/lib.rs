//! Judging a generator with a fixed MNIST classifier (the usual practice for MNIST GANs, where
//! Inception features mean nothing): accuracy on class-conditional samples, and the Fréchet
//! distance between the judge's penultimate features of samples and of the real test images.

pub mod fid;
pub mod grids;
pub mod plot;

use anyhow::{ensure, Context, Result};
use data::Dataset;
use fid::Stats;
use logging::progress::Progress;
use model::Generator;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

/// Width of the judge's penultimate layer: the features FID compares.
pub const FEATURES: i64 = 128;
const EVAL_BATCH: i64 = 1000;

/// A small CNN: two 3x3 conv + ReLU + 2x2 max-pool blocks, a 128-unit layer, 10 logits.
pub struct Judge {
    conv_1: nn::Conv2D,
    conv_2: nn::Conv2D,
    features: nn::Linear,
    output: nn::Linear,
}

impl Judge {
    pub fn new(vs: &nn::VarStore) -> Judge {
        let p = vs.root() / "judge";
        let pad = nn::ConvConfig { padding: 1, ..Default::default() };
        Judge {
            conv_1: nn::conv2d(&p / "conv_1", 1, 32, 3, pad),
            conv_2: nn::conv2d(&p / "conv_2", 32, 64, 3, pad),
            features: nn::linear(&p / "features", 64 * 7 * 7, FEATURES, Default::default()),
            output: nn::linear(&p / "output", FEATURES, 10, Default::default()),
        }
    }

    /// Penultimate features `[N, 128]` of images `[N,1,28,28]` in [-1, 1].
    pub fn features(&self, x: &Tensor) -> Tensor {
        let x = self.conv_1.forward(x).relu().max_pool2d_default(2);
        let x = self.conv_2.forward(&x).relu().max_pool2d_default(2);
        self.features.forward(&x.flatten(1, -1)).relu()
    }

    pub fn logits(&self, features: &Tensor) -> Tensor {
        self.output.forward(features)
    }

    /// (features, logits) of many images, in batches, without autograd.
    pub fn run(&self, images: &Tensor) -> (Tensor, Tensor) {
        let _guard = tch::no_grad_guard();
        let (f, l): (Vec<Tensor>, Vec<Tensor>) = images
            .split(EVAL_BATCH, 0)
            .iter()
            .map(|x| {
                let f = self.features(x);
                let l = self.logits(&f);
                (f, l)
            })
            .unzip();
        (Tensor::cat(&f, 0), Tensor::cat(&l, 0))
    }
}

#[derive(clap::Args, Serialize, Deserialize, Debug, Clone)]
pub struct JudgeConfig {
    /// Seed of the judge's initialisation and shuffling.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Passes over the 60k training images.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub epochs: u64,
    /// Images per Adam step (1 to 60,000).
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(i64).range(1..=60_000))]
    pub batch_size: i64,
    /// Adam learning rate of the first epoch (a finite number > 0); it shrinks by a quarter
    /// after every epoch.
    #[arg(long, default_value_t = 1e-3, value_parser = cli::parse::positive_finite, allow_hyphen_values = true)]
    pub lr: f64,
}

/// `judge.json`: how the judge was made and how good it is.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct JudgeRecord {
    pub config: JudgeConfig,
    pub test_accuracy: f64,
    /// FID between the 60k training and the 10k test images: the floor a perfect generator sees.
    pub fid_real: f64,
    pub train_seconds: f64,
}

pub const JUDGE_FILE: &str = "judge.safetensors";
pub const RECORD_FILE: &str = "judge.json";
pub const TEST_STATS_FILE: &str = "test_features.safetensors";

/// Where the judge lives unless `--judge-dir` says otherwise. It is an instrument shared by all
/// runs, not part of one: its place does not follow `--runs-dir`.
pub const DEFAULT_JUDGE_DIR: &str = "runs/judge";

/// Where a picture of `runs` goes (`curves.png`, `grids.png`: `name` without `.png`): `out` when
/// given, checked (not inside a run unless its file name starts with `name`, not over an existing
/// file without `force`); else `<runs-dir>/<run>/<name>.png` for one run, `<runs-dir>/<name>.png`
/// for several: the tool's own file, redrawn each time.
pub fn picture_path(
    runs_dir: &Path,
    runs: &[String],
    name: &str,
    out: Option<PathBuf>,
    force: bool,
) -> Result<PathBuf> {
    let default = match runs {
        [one] => runs_dir.join(one).join(format!("{name}.png")),
        _ => runs_dir.join(format!("{name}.png")),
    };
    match out {
        Some(path) if path != default => {
            let ours = |p: &Path| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(name));
            rundir::output::check(&path, force, ours)?;
            Ok(path)
        }
        _ => Ok(default),
    }
}

/// Fraction of `logits` whose argmax is `classes`.
pub fn accuracy(logits: &Tensor, classes: &Tensor) -> f64 {
    logits.argmax(1, false).eq_tensor(classes).to_kind(Kind::Double).mean(Kind::Double).double_value(&[])
}

/// The batch translated by a random -2..=2 pixels on each axis (filling with background -1): the
/// augmentation that lifts this small CNN past 99% on MNIST's test set in a few epochs.
fn shift(x: &Tensor) -> Tensor {
    let offsets = Vec::<i64>::try_from(Tensor::randint(5, [2], (Kind::Int64, Device::Cpu))).unwrap();
    let padded = (x + 1.0).constant_pad_nd([2, 2, 2, 2]) - 1.0;
    padded.narrow(2, offsets[0], 28).narrow(3, offsets[1], 28)
}

/// Trains a judge on `train`, reports progress, returns it with its accuracy on `test`.
pub fn train_judge(cfg: &JudgeConfig, train: &Dataset, test: &Dataset) -> Result<(nn::VarStore, Judge, f64)> {
    tch::manual_seed(cfg.seed as i64);
    let device = train.images.device();
    let vs = nn::VarStore::new(device);
    let judge = Judge::new(&vs);
    let mut opt = nn::Adam::default().build(&vs, cfg.lr)?;
    let n = train.len() as i64;
    let steps_per_epoch = (n + cfg.batch_size - 1) / cfg.batch_size;
    let mut progress = Progress::new(0, cfg.epochs * steps_per_epoch as u64, "batches");
    for epoch in 0..cfg.epochs {
        opt.set_lr(cfg.lr * 0.75f64.powi(epoch as i32));
        let order = Tensor::randperm(n, (Kind::Int64, device));
        for (k, idx) in order.split(cfg.batch_size, 0).iter().enumerate() {
            let (x, y) = train.gather(idx);
            let x = shift(&x);
            // Dropout on the features in training only: scoring uses the deterministic features.
            let loss = judge.logits(&judge.features(&x).dropout(0.5, true)).cross_entropy_for_logits(&y);
            opt.backward_step(&loss);
            if k % 50 == 0 {
                let msg = format!("epoch {} loss {:.4}", epoch + 1, loss.double_value(&[]));
                progress.update(epoch * steps_per_epoch as u64 + k as u64 + 1, None, &msg);
            }
        }
    }
    progress.update(cfg.epochs * steps_per_epoch as u64, None, "done");
    progress.finish();
    let (_, logits) = judge.run(&test.images);
    let test_accuracy = accuracy(&logits, &test.labels);
    Ok((vs, judge, test_accuracy))
}

/// Writes a judge directory (weights, record, test feature statistics) under a temporary name,
/// then puts it in place of any previous one.
pub fn save_judge(dir: &Path, vs: &nn::VarStore, record: &JudgeRecord, test_stats: &Stats) -> Result<()> {
    rundir::atomic::write_dir(dir, |tmp| {
        vs.save(tmp.join(JUDGE_FILE))?;
        Tensor::write_safetensors(&[("mean", &test_stats.mean), ("cov", &test_stats.cov)], tmp.join(TEST_STATS_FILE))?;
        rundir::atomic::write_json(&tmp.join(RECORD_FILE), record)
    })
    .with_context(|| format!("cannot write the judge to {}", dir.display()))
}

/// A trained judge with the feature statistics of the real test images.
pub struct LoadedJudge {
    pub judge: Judge,
    pub record: JudgeRecord,
    pub test_stats: Stats,
    /// SHA-256 of the judge's weights file: its identity. Scores compare only under one judge.
    pub sha256: String,
    _vs: nn::VarStore,
}

/// The command that makes a judge in `dir`.
pub fn train_judge_hint(dir: &Path) -> String {
    let flag =
        if dir == Path::new(DEFAULT_JUDGE_DIR) { String::new() } else { format!(" --judge-dir {}", dir.display()) };
    format!("cargo run -p eval -- train-judge{flag}")
}

pub fn load_judge(dir: &Path, device: Device) -> Result<LoadedJudge> {
    let missing = || format!("no trained judge in {}: run `{}` first", dir.display(), train_judge_hint(dir));
    ensure!(dir.join(JUDGE_FILE).is_file(), missing());
    let weights = std::fs::read(dir.join(JUDGE_FILE))
        .with_context(|| format!("cannot read {}", dir.join(JUDGE_FILE).display()))?;
    let sha256 = hex::encode(Sha256::digest(&weights));
    let vs = nn::VarStore::new(device);
    let judge = Judge::new(&vs);
    model::weights::load_var_store(&vs, &dir.join(JUDGE_FILE))?;
    let record_file = dir.join(RECORD_FILE);
    ensure!(record_file.is_file(), missing());
    let record: JudgeRecord = serde_json::from_str(&rundir::record::read_small(&record_file, 64 * 1024)?)
        .with_context(|| format!("{} is not a judge record", record_file.display()))?;
    let test_stats = Stats {
        mean: Tensor::zeros([FEATURES], (Kind::Double, device)),
        cov: Tensor::zeros([FEATURES, FEATURES], (Kind::Double, device)),
    };
    let stats_file = dir.join(TEST_STATS_FILE);
    ensure!(stats_file.is_file(), missing());
    model::weights::load_into(
        &stats_file,
        &[("mean".into(), test_stats.mean.shallow_clone()), ("cov".into(), test_stats.cov.shallow_clone())],
    )?;
    Ok(LoadedJudge { judge, record, test_stats, sha256, _vs: vs })
}

#[derive(Serialize, Debug, Clone)]
pub struct Scores {
    pub n: i64,
    pub conditional_accuracy: f64,
    pub per_class_accuracy: Vec<f64>,
    /// `confusion[asked][judged]`: how many images asked to be class `asked` the judge read as
    /// `judged`, so that a class's misses show what they look like.
    pub confusion: Vec<Vec<i64>>,
    pub fid: f64,
}

/// Scores images that were asked to be `classes`. Images holding NaN or infinity (from a
/// generator whose arithmetic overflowed) are refused: no score means anything for them.
pub fn score_images(j: &LoadedJudge, images: &Tensor, classes: &Tensor) -> Result<Scores> {
    let bad = images.isfinite().logical_not().sum(Kind::Int64).int64_value(&[]);
    ensure!(
        bad == 0,
        "the generator produced {bad} non-finite pixel values (NaN or infinity): its weights are unusable"
    );
    let (features, logits) = j.judge.run(images);
    let confusion = confusion(&logits, classes)?;
    let per_class_accuracy = per_class_accuracy(&confusion);
    let n = images.size()[0];
    let hits: i64 = (0..10).map(|k| confusion[k][k]).sum();
    Ok(Scores {
        n,
        conditional_accuracy: hits as f64 / n as f64,
        per_class_accuracy,
        confusion,
        fid: fid::frechet_distance(&Stats::of(&features), &j.test_stats),
    })
}

/// `confusion[asked][read]`: how many of the images asked to be `classes` a classifier's `logits`
/// read as each class.
pub fn confusion(logits: &Tensor, classes: &Tensor) -> Result<Vec<Vec<i64>>> {
    let cells = (classes * 10 + logits.argmax(1, false)).bincount::<Tensor>(None, 100);
    Ok(Vec::<i64>::try_from(cells)?.chunks(10).map(<[i64]>::to_vec).collect())
}

/// Each class's share of its images read as itself; a class with no images has no accuracy: NaN,
/// as the mean of nothing.
pub fn per_class_accuracy(confusion: &[Vec<i64>]) -> Vec<f64> {
    confusion.iter().enumerate().map(|(k, row)| row[k] as f64 / row.iter().sum::<i64>() as f64).collect()
}

/// The generator of a run's checkpoint after `iteration` iterations (None: the newest), verified
/// and checked, with the iteration and the checkpoint's directory; a checkpoint that fails, or
/// lacks a file of `also` (others the caller reads from it, verified in the same pass), is
/// refused, naming the newest intact one.
pub fn load_generator(
    run_dir: &Path,
    iteration: Option<u64>,
    also: &[&str],
    device: Device,
    precision: model::Precision,
) -> Result<(u64, PathBuf, nn::VarStore, Generator)> {
    use rundir::checkpoint::{find, intact_hint, GENERATOR_FILE};
    let required = [&[GENERATOR_FILE], also].concat();
    let (done, dir, _) = find(run_dir, iteration, &required)?;
    let (vs, generator) = Generator::load(&dir.join(GENERATOR_FILE), device, model::Upsample::SubPixel, precision)
        .map_err(|e| {
            anyhow::anyhow!(
                "{e:#}. Checkpoint {} cannot be used; {}",
                dir.display(),
                intact_hint(run_dir, &dir, &required)
            )
        })?;
    Ok((done, dir, vs, generator))
}

/// The samples a tool draws from a checkpoint's generator: by default those of `eval score`, so
/// that every tool reads the same images.
#[derive(clap::Args, Debug, Clone)]
pub struct SamplesArgs {
    /// Number of samples, a positive multiple of 10 (n/10 per class; FID is usually reported
    /// from 10,000).
    #[arg(long, default_value_t = 10_000, value_parser = sample_count)]
    pub n: i64,
    /// Seed of the sampling noise.
    #[arg(long, default_value_t = 0)]
    pub seed: i64,
    /// Arithmetic of the generator while sampling: fp32 or bf16 (a judge reading the samples
    /// always runs in fp32).
    #[arg(long, default_value = "fp32", value_parser = cli::parse::one_of::<model::Precision>(model::Precision::NAMES))]
    pub precision: model::Precision,
}

impl SamplesArgs {
    /// Refuses `what` when its `n` samples, at `per_sample` bytes each, would not fit in memory.
    pub fn ensure_memory(&self, what: &str, per_sample: f64) -> Result<()> {
        cli::memory::ensure_available(&format!("{what} {} samples", self.n), self.n as f64 * per_sample + 500e6)
    }
}

fn sample_count(s: &str) -> std::result::Result<i64, String> {
    match s.parse::<i64>() {
        Ok(n) if n > 0 && n % 10 == 0 => Ok(n),
        Ok(_) => Err("must be a positive multiple of 10 (equal per class)".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// `n` images from `generator`, `n / 10` of each class, from noise seeded by `seed`.
pub fn generate_balanced(generator: &Generator, n: i64, seed: i64, device: Device) -> Result<(Tensor, Tensor)> {
    let (z, classes) = balanced_noise(n, generator.z_size(), seed, device)?;
    Ok((generator.generate(&z, &classes), classes))
}

/// The noise `[n, z_size]` and classes `[n]` (`n / 10` of each) of `generate_balanced`.
pub fn balanced_noise(n: i64, z_size: i64, seed: i64, device: Device) -> Result<(Tensor, Tensor)> {
    ensure!(n > 0 && n % 10 == 0, "the number of samples ({n}) must be a positive multiple of 10 (equal per class)");
    tch::manual_seed(seed);
    let classes = Tensor::arange(10, (Kind::Int64, device)).repeat([n / 10]);
    Ok((Tensor::randn([n, z_size], (Kind::Float, device)), classes))
}
