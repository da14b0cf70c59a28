//! A judge trained here (quickly, on part of MNIST), saved, loaded, and used to score images.

use data::{Dataset, Split};
use eval::{fid::Stats, JudgeConfig, JudgeRecord};
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

fn mnist() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist"))
}

/// Trains a judge for one epoch on the first 10k training images and saves it in `dir`.
fn quick_judge(dir: &Path) -> (Dataset, Dataset) {
    let full = Dataset::split(&mnist(), Split::Train, Device::Cpu).unwrap();
    let train = Dataset { images: full.images.narrow(0, 0, 10_000), labels: full.labels.narrow(0, 0, 10_000) };
    let test = Dataset::split(&mnist(), Split::Test, Device::Cpu).unwrap();
    let config = JudgeConfig { seed: 1, epochs: 1, batch_size: 128, lr: 1e-3 };
    let (vs, judge, test_accuracy) = eval::train_judge(&config, &train, &test).unwrap();
    assert!(test_accuracy > 0.8, "even a quick judge is a decent classifier: {test_accuracy}");
    let test_stats = Stats::of(&judge.run(&test.images).0);
    let record = JudgeRecord { config, test_accuracy, fid_real: 0.0, train_seconds: 0.0 };
    eval::save_judge(dir, &vs, &record, &test_stats).unwrap();
    (full, test)
}

#[test]
fn judge_scores_real_noisy_and_generated_images() {
    let runs = tempfile::tempdir().unwrap();
    let (train, test) = quick_judge(&runs.path().join("judge"));
    let j = eval::load_judge(&runs.path().join("judge"), Device::Cpu).unwrap();

    // Real test images scored as if they were samples of their labels: the judge's test accuracy,
    // per-class accuracies that average (weighted by class size) to it, and FID ~ 0.
    let s = eval::score_images(&j, &test.images, &test.labels).unwrap();
    assert_eq!(s.conditional_accuracy, j.record.test_accuracy);
    let counts = Vec::<f64>::try_from(test.labels.bincount::<Tensor>(None, 10).to_kind(Kind::Double)).unwrap();
    let weighted: f64 = s.per_class_accuracy.iter().zip(&counts).map(|(a, c)| a * c).sum::<f64>() / 10_000.0;
    assert!((weighted - s.conditional_accuracy).abs() < 1e-12);
    // Each label's row of the confusion counts holds that label's images; the diagonal, the hits.
    let rows: Vec<f64> = s.confusion.iter().map(|r| r.iter().sum::<i64>() as f64).collect();
    assert_eq!(rows, counts);
    let hits: i64 = (0..10).map(|k| s.confusion[k][k]).sum();
    assert_eq!(hits as f64 / 10_000.0, s.conditional_accuracy);
    assert!(s.fid < 1e-6, "{}", s.fid);

    // FID of real training images against the test set grows with added noise.
    let x = train.images.narrow(0, 0, 5000);
    let classes = train.labels.narrow(0, 0, 5000);
    tch::manual_seed(30);
    let fids: Vec<f64> = [0.0, 0.1, 0.3, 0.6]
        .iter()
        .map(|&sigma| eval::score_images(&j, &(&x + x.randn_like() * sigma).clamp(-1.0, 1.0), &classes).unwrap().fid)
        .collect();
    assert!(fids.windows(2).all(|w| w[0] < w[1]), "FID does not grow with noise: {fids:?}");
    assert!(fids[3] > 10.0 * fids[0], "{fids:?}");

    // The CLI, as a user runs it: a run with one (untrained) generator checkpoint, then `score`.
    let vs = tch::nn::VarStore::new(Device::Cpu);
    model::Generator::new(&vs, model::Z_SIZE, model::Upsample::SubPixel, model::Precision::Fp32);
    rundir::checkpoint::write(&runs.path().join("x"), 5, |dir| {
        Ok(vs.save(dir.join(rundir::checkpoint::GENERATOR_FILE))?)
    })
    .unwrap();
    let eval_cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_eval"))
            .args(["--runs-dir", runs.path().to_str().unwrap(), "--data-dir", mnist().to_str().unwrap()])
            .args(["--judge-dir", runs.path().join("judge").to_str().unwrap()])
            .args(args)
            .output()
            .unwrap()
    };
    let json = |out: std::process::Output| -> serde_json::Value {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap()
    };
    let scored = json(eval_cli(&["score", "--cpu", "--run", "x", "--n", "200"]));
    assert_eq!((scored["n"].as_i64(), scored["per_class_accuracy"].as_array().unwrap().len()), (Some(200), 10));
    assert!(scored["fid"].as_f64().unwrap() > 10.0, "an untrained generator is far from MNIST: {scored}");
    let confusion: Vec<Vec<i64>> = serde_json::from_value(scored["confusion"].clone()).unwrap();
    assert_eq!(confusion.iter().map(|r| r.iter().sum()).collect::<Vec<i64>>(), vec![20; 10]);
    assert!(scored["what"].as_str().unwrap().contains("after 5 iterations"));
    assert_eq!(scored["judge_sha256"].as_str(), Some(j.sha256.as_str()));
    assert_eq!(j.sha256.len(), 64);
    let real = json(eval_cli(&["score", "--cpu", "--real"]));
    assert_eq!(real["conditional_accuracy"].as_f64(), Some(j.record.test_accuracy));
    let refused = eval_cli(&["train-judge", "--cpu"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--force"));
    let no_judge = std::process::Command::new(env!("CARGO_BIN_EXE_eval"))
        .args(["--judge-dir", "/nonexistent", "score", "--cpu"])
        .output()
        .unwrap();
    assert_eq!(no_judge.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_judge.stderr).contains("train-judge --judge-dir /nonexistent` first"));
}
