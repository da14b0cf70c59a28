//! The `train` and `sample` binaries run as a user runs them, on tiny configurations over the real
//! MNIST: logged values, rerun determinism, exact resume (also after SIGKILL), and refusals.

use logging::tensorboard::{read_dir, Record};
use std::path::{Path, PathBuf};

mod common;
use common::*;

#[test]
fn logged_values_rerun_and_resume_are_exact() {
    let runs = tempfile::tempdir().unwrap();
    let twelve = [&TINY[..], &["--iterations", "12", "--checkpoint-every", "6"]].concat();
    ok(train(runs.path(), "a", &twelve));
    ok(train(runs.path(), "b", &twelve));
    ok(train(runs.path(), "c", &[&TINY[..], &["--iterations", "6", "--checkpoint-every", "6"]].concat()));
    let resumed = ok(train(runs.path(), "c", &["--cpu", "--resume", "--iterations", "12"]));
    assert!(String::from_utf8_lossy(&resumed.stdout).contains("resuming"));
    let (a, b, c) = (runs.path().join("a"), runs.path().join("b"), runs.path().join("c"));

    // The seven tags at steps 0, 2, .., 10, with D loss = -D_real_is_fake - D_fake_is_fake.
    let logged = scalars(&a);
    assert_eq!(logged.len(), 7 * 6);
    for step in (0..12).step_by(2) {
        let at: Vec<_> = logged.iter().filter(|s| s.1 == step).collect();
        let value = |tag: &str| at.iter().find(|s| s.0 == tag).unwrap_or_else(|| panic!("no {tag} at {step}")).2;
        assert!((value(rundir::tags::D_LOSS) - (-value("D_real_is_fake") - value("D_fake_is_fake"))).abs() < 1e-6);
        assert!(rundir::tags::LOSS_TAGS.iter().all(|t| value(t).is_finite()));
    }
    // Sample grids: PNG files and TensorBoard images at steps 0 and 6, 280x280.
    for step in [0, 6] {
        let png = std::fs::read(a.join(format!("samples/samples_{step:07}.png"))).unwrap();
        assert_eq!(logging::read_gray_png(&png).unwrap().dim(), (280, 280));
    }
    let images: Vec<u64> = read_dir(&a)
        .unwrap()
        .iter()
        .filter_map(|r| match r {
            Record::Image { tag, step, .. } if tag == "samples" => Some(*step),
            _ => None,
        })
        .collect();
    assert_eq!(images, [0, 6]);

    // Rerun: identical bytes. Resume: identical bytes and identical logged scalars.
    assert!(checkpoint_bytes(&a, 12) == checkpoint_bytes(&b, 12), "a rerun with the same seed differs");
    assert!(checkpoint_bytes(&a, 12) == checkpoint_bytes(&c, 12), "6 + resume to 12 differs from 12 straight");
    assert!(checkpoint_bytes(&a, 6) == checkpoint_bytes(&c, 6));
    assert_eq!(scalars(&a), scalars(&b));
    assert_eq!(scalars(&a), scalars(&c));
    // A different seed is a different run.
    ok(train(runs.path(), "d", &[&twelve[..], &["--seed", "778"]].concat()));
    assert!(checkpoint_bytes(&a, 12) != checkpoint_bytes(&runs.path().join("d"), 12));
}

#[test]
fn refuses_to_overwrite_or_alter_a_run() {
    let runs = tempfile::tempdir().unwrap();
    ok(train(runs.path(), "r", &[&TINY[..], &["--iterations", "2"]].concat()));
    let config = std::fs::read(runs.path().join("r/config.json")).unwrap();
    let listing = || {
        let mut v: Vec<_> = walk(&runs.path().join("r"));
        v.sort();
        v
    };
    let before = listing();
    let msg = clean_failure(train(runs.path(), "r", &TINY));
    assert!(msg.contains("already holds a run") && msg.contains("--resume"), "{msg}");
    let msg = clean_failure(train(runs.path(), "r", &["--cpu", "--resume", "--batch-size", "16", "--iterations", "4"]));
    assert!(msg.contains("--batch-size 16 (the run has 8)"), "{msg}");
    let msg = clean_failure(train(runs.path(), "r", &["--cpu", "--resume"]));
    assert!(msg.contains("complete at 2 iterations"), "{msg}");
    assert_eq!(std::fs::read(runs.path().join("r/config.json")).unwrap(), config);
    assert_eq!(listing(), before);
    let msg = clean_failure(train(runs.path(), "none", &["--cpu", "--resume"]));
    assert!(msg.contains("is not a run directory (it does not exist)"), "{msg}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flat_map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p)
            } else {
                vec![p]
            }
        })
        .collect()
}

#[test]
fn unwritable_runs_dir_fails_before_training() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let msg = clean_failure(train(&file.path().join("runs"), "x", &TINY));
    assert!(msg.contains("cannot create the run directory"), "{msg}");
}

#[test]
fn divergence_stops_with_the_iteration_and_keeps_the_last_checkpoint() {
    let runs = tempfile::tempdir().unwrap();
    let out = train(
        runs.path(),
        "nan",
        &[&TINY[..], &["--iterations", "12", "--checkpoint-every", "1", "--lr", "3e5"]].concat(),
    );
    let msg = clean_failure(out);
    assert!(msg.contains("training diverged") && msg.contains("at iteration"), "{msg}");
    let (done, dir, _) = rundir::checkpoint::find(&runs.path().join("nan"), None, &[]).unwrap();
    assert!(msg.contains(&format!("last good checkpoint is {}", dir.display())), "{msg}");
    let state = std::fs::read_to_string(dir.join("state.json")).unwrap();
    assert!(state.contains(&format!("\"iterations_done\": {done}")));
}

#[test]
fn bad_flags_are_clear_errors() {
    let runs = tempfile::tempdir().unwrap();
    if !tch::Cuda::is_available() {
        let msg = clean_failure(train(runs.path(), "g", &["--gpu", "0"]));
        assert!(msg.contains("CUDA is not available"), "{msg}");
    }
    let out = train(runs.path(), "g", &["--cpu", "--batch-size", "0"]);
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
    let msg = clean_failure(train(runs.path(), "g", &["--cpu", "--data-dir", "/nonexistent"]));
    assert!(msg.contains("/nonexistent") && msg.contains("fetch"), "{msg}");
    assert!(!runs.path().join("g").exists(), "a failed start leaves no run behind");
}

#[test]
fn sample_writes_grids_from_the_newest_checkpoint() {
    let runs = tempfile::tempdir().unwrap();
    ok(train(runs.path(), "s", &[&TINY[..], &["--iterations", "2"]].concat()));
    let sample = |extra: &[&str]| {
        command(env!("CARGO_BIN_EXE_sample"), runs.path(), "s", &[&["--cpu"], extra].concat()).output().unwrap()
    };
    let out = runs.path().join("seven.png");
    let printed = ok(sample(&["--class", "7", "--n", "15", "--out", out.to_str().unwrap()]));
    assert!(String::from_utf8_lossy(&printed.stdout).contains("checkpoints/2"));
    let grid = logging::read_gray_png(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(grid.dim(), (56, 280));
    let pixels = grid.as_slice().unwrap();
    // 15 images: the second row's last five cells stay black, its first five do not.
    let cell = |r: usize, c: usize| {
        (0..28).flat_map(move |y| (0..28).map(move |x| (r * 28 + y) * 280 + c * 28 + x)).map(|i| pixels[i])
    };
    assert!((5..10).all(|c| cell(1, c).all(|p| p == 0)), "cells past n are drawn");
    assert!((0..5).all(|c| cell(1, c).any(|p| p > 0)));
    ok(sample(&[]));
    let grid =
        logging::read_gray_png(&std::fs::read(runs.path().join("s/samples/sample_0000002.png")).unwrap()).unwrap();
    assert_eq!(grid.dim(), (280, 280));
    let msg = clean_failure(sample(&["--checkpoint", "5"]));
    assert!(msg.contains("no checkpoint at iteration 5") && msg.contains("there are: 2"), "{msg}");
    let msg = clean_failure(sample(&["--n", "15"]));
    assert!(msg.contains("multiple of 10"), "{msg}");
}

#[test]
fn eval_every_logs_judge_scores() {
    let runs = tempfile::tempdir().unwrap();
    let judge_dir = runs.path().join("judges/one");
    let judge_flag = ["--judge-dir", judge_dir.to_str().unwrap()];
    let args = [&TINY[..], &["--iterations", "9", "--eval-every", "4", "--eval-samples", "20"], &judge_flag].concat();
    let msg = clean_failure(train(runs.path(), "e", &args));
    assert!(msg.contains("train-judge --judge-dir") && msg.contains("judges/one` first"), "{msg}");
    assert!(!runs.path().join("e").exists());
    // Any judge will do for the mechanics: an untrained one, with test statistics of its features.
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let judge = eval::Judge::new(&vs);
    let test = data::Dataset::split(Path::new(&data_dir()), data::Split::Test, tch::Device::Cpu).unwrap();
    let stats = eval::fid::Stats::of(&judge.run(&test.images.narrow(0, 0, 500)).0);
    let config = eval::JudgeConfig { seed: 1, epochs: 0, batch_size: 1, lr: 0.0 };
    let record = eval::JudgeRecord { config, test_accuracy: 0.1, fid_real: 0.0, train_seconds: 0.0 };
    eval::save_judge(&judge_dir, &vs, &record, &stats).unwrap();
    ok(train(runs.path(), "e", &args));
    let logged = scalars(&runs.path().join("e"));
    for tag in ["eval/conditional_accuracy", "eval/fid"] {
        let steps: Vec<u64> = logged.iter().filter(|s| s.0 == tag).map(|s| s.1).collect();
        assert_eq!(steps, [0, 4, 8], "{tag}");
    }
    assert!(logged.iter().filter(|s| s.0.starts_with("eval/")).all(|s| s.2.is_finite() && s.2 >= 0.0));
}

#[test]
fn as_published_reruns_and_resumes_bit_exactly() {
    let runs = tempfile::tempdir().unwrap();
    let twelve = [&TINY[..], &["--iterations", "12", "--checkpoint-every", "6", "--as-published"]].concat();
    ok(train(runs.path(), "a", &twelve));
    ok(train(runs.path(), "b", &twelve));
    ok(train(
        runs.path(),
        "c",
        &[&TINY[..], &["--iterations", "6", "--checkpoint-every", "6", "--as-published"]].concat(),
    ));
    ok(train(runs.path(), "c", &["--cpu", "--resume", "--iterations", "12"]));
    let dg_state = |run: &str| {
        std::fs::read(runs.path().join(run).join("checkpoints/12/rmsprop_generator_step_critic.safetensors")).unwrap()
    };
    for run in ["b", "c"] {
        assert!(
            checkpoint_bytes(&runs.path().join("a"), 12) == checkpoint_bytes(&runs.path().join(run), 12),
            "{run} differs"
        );
        assert!(dg_state("a") == dg_state(run), "{run}: the generator step's critic state differs");
        assert_eq!(scalars(&runs.path().join("a")), scalars(&runs.path().join(run)));
    }
    let record = std::fs::read_to_string(runs.path().join("c/config.json")).unwrap();
    assert!(record.contains("\"as_published\": true"), "{record}");
    // The same seed without --as-published is another run.
    ok(train(runs.path(), "d", &[&TINY[..], &["--iterations", "12", "--checkpoint-every", "6"]].concat()));
    assert!(checkpoint_bytes(&runs.path().join("a"), 12) != checkpoint_bytes(&runs.path().join("d"), 12));
}

#[test]
fn precision_switches_on_resume_and_is_recorded() {
    let runs = tempfile::tempdir().unwrap();
    ok(train(runs.path(), "p", &[&TINY[..], &["--iterations", "4", "--checkpoint-every", "2"]].concat()));
    ok(train(runs.path(), "p", &["--cpu", "--resume", "--iterations", "8", "--precision", "bf16"]));
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(runs.path().join("p/config.json")).unwrap()).unwrap();
    assert_eq!(record["config"]["precision"], "bf16");
    assert_eq!(record["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(record["sessions"][1]["start_iteration"], 4);
    let d_loss: Vec<u64> =
        scalars(&runs.path().join("p")).iter().filter(|s| s.0 == rundir::tags::D_LOSS).map(|s| s.1).collect();
    assert_eq!(d_loss, [0, 2, 4, 6]);
}

#[test]
fn a_copied_or_moved_run_resumes_where_it_is_and_touches_nothing_else() {
    let (here, elsewhere) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let six = [&TINY[..], &["--iterations", "6", "--checkpoint-every", "3"]].concat();
    ok(train(here.path(), "base", &six));
    ok(train(here.path(), "straight", &[&TINY[..], &["--iterations", "9", "--checkpoint-every", "3"]].concat()));
    let original = here.path().join("base");
    let before: Vec<(PathBuf, Vec<u8>)> =
        walk(&original).into_iter().map(|p| (p.clone(), std::fs::read(&p).unwrap())).collect();

    // A copy under another name and runs directory, resumed there.
    let copy = elsewhere.path().join("runs/B");
    std::fs::create_dir_all(elsewhere.path().join("runs")).unwrap();
    let status = std::process::Command::new("cp").arg("-r").arg(&original).arg(&copy).status().unwrap();
    assert!(status.success());
    ok(train(&elsewhere.path().join("runs"), "B", &["--cpu", "--resume", "--iterations", "9"]));
    let after: Vec<(PathBuf, Vec<u8>)> =
        walk(&original).into_iter().map(|p| (p.clone(), std::fs::read(&p).unwrap())).collect();
    assert!(before == after, "resuming the copy changed the original run");
    assert!(checkpoint_bytes(&copy, 9) == checkpoint_bytes(&here.path().join("straight"), 9));
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(copy.join("config.json")).unwrap()).unwrap();
    assert_eq!(record["config"]["run"], "B", "the record names the run where it is now");

    // A run moved away from where it was trained resumes too.
    let moved = elsewhere.path().join("moved");
    std::fs::create_dir_all(&moved).unwrap();
    std::fs::rename(&original, moved.join("base")).unwrap();
    ok(train(&moved, "base", &["--cpu", "--resume", "--iterations", "9"]));
    assert!(checkpoint_bytes(&moved.join("base"), 9) == checkpoint_bytes(&copy, 9));
}

#[test]
fn a_second_interrupt_exits_with_130_at_once() {
    let runs = tempfile::tempdir().unwrap();
    for attempt in 0..4 {
        let run = format!("i{attempt}");
        let mut child = train_command(
            runs.path(),
            &run,
            &[&TINY[..], &["--iterations", "100000", "--checkpoint-every", "5"]].concat(),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
        // Interrupt in the middle of training: once the first checkpoint exists.
        let first = runs.path().join(&run).join("checkpoints/5");
        while !first.exists() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        for _ in 0..2 {
            let _ = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status();
        }
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "attempt {attempt}: {status:?}");
    }
}
