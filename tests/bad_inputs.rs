//! Every row of the bad-input table (docs/bad-inputs.md), run as a user types it: the exit status,
//! the message, no panic or backtrace (RUST_BACKTRACE=1 is set), and no file of an existing run,
//! judge, sweep or data set changed. Rows run in one scratch directory (see `Scratch`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../crates/train/tests/common/mod.rs"]
mod common;
use common::{binary, edit_tensors, reseal};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One row of the table: the command as typed, the exit status, a fragment of the message.
#[derive(Debug)]
struct Row {
    command: String,
    status: i32,
    message: String,
    without_gpu: bool,
}

fn table() -> Vec<Row> {
    let page = std::fs::read_to_string(repo().join("docs/bad-inputs.md")).unwrap();
    let table = page.split("| command | status | message contains |").nth(1).expect("docs/bad-inputs.md has the table");
    table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 3, "a row is | `command` | status | `message` |: {l}");
            let unquote = |c: &str| c.trim_start_matches('`').trim_end_matches('`').replace("\\|", "|");
            let (status, without_gpu) = match cells[1].split_once(' ') {
                Some((s, note)) => (s, note.contains("without a GPU")),
                None => (cells[1], false),
            };
            Row {
                command: unquote(cells[0].split("` ").next().unwrap()),
                status: status.parse().unwrap_or_else(|_| panic!("bad status in {l}")),
                message: unquote(cells[2]),
                without_gpu,
            }
        })
        .collect()
}

/// Splits a command line on spaces; `""` is an empty argument.
fn words(command: &str) -> Vec<String> {
    command
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| if w == "\"\"" { String::new() } else { w.to_string() })
        .collect()
}

/// Runs `command` (words) in `dir`, which must succeed.
fn run_in(dir: &Path, words: &[&str]) {
    let out = Command::new(words[0]).args(&words[1..]).current_dir(dir).env("OMP_NUM_THREADS", "1").output().unwrap();
    assert!(out.status.success(), "{words:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A copy of `runs/done` named `name`.
fn copy_of_done(root: &Path, name: &str) -> PathBuf {
    run_in(root, &["cp", "-r", "runs/done", &format!("runs/{name}")]);
    root.join("runs").join(name)
}

/// Edits a JSON file through `edit`.
fn edit_json(file: &Path, edit: impl Fn(&mut serde_json::Value)) {
    let mut value: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    edit(&mut value);
    std::fs::write(file, serde_json::to_string_pretty(&value).unwrap()).unwrap();
}

/// The event file of a run directory.
fn event_file(run: &Path) -> PathBuf {
    std::fs::read_dir(run)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("events.out.tfevents."))
        .unwrap()
}

/// The on-disk fixtures of docs/bad-inputs.md, each one thing wrong in a copy of `runs/done`, of
/// a sweep, or of MNIST.
fn on_disk_fixtures(root: &Path) {
    let flipped = copy_of_done(root, "flipped").join("checkpoints/2/critic.safetensors");
    let mut bytes = std::fs::read(&flipped).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0x10;
    std::fs::write(&flipped, bytes).unwrap();
    std::fs::create_dir(copy_of_done(root, "stray").join("checkpoints/99")).unwrap();
    let reshaped = copy_of_done(root, "reshaped").join("checkpoints/2");
    edit_tensors(&reshaped.join("rmsprop_critic.safetensors"), |name, t| {
        if name == "critic.conv_1.bias" {
            tch::Tensor::zeros([7], (t.kind(), t.device()))
        } else {
            t
        }
    });
    reseal(&reshaped);
    let nan = copy_of_done(root, "nan").join("checkpoints/2");
    edit_tensors(&nan.join("generator.safetensors"), |name, t| {
        if name == "generator.dense_1.weight" {
            t.fill(f64::NAN)
        } else {
            t
        }
    });
    reseal(&nan);
    let overdone = copy_of_done(root, "overdone").join("checkpoints/2");
    edit_json(&overdone.join("state.json"), |v| v["iterations_done"] = 99999.into());
    reseal(&overdone);
    for (name, key, value) in [
        ("zero-log", "log_every", serde_json::json!(0)),
        ("neg-batch", "batch_size", serde_json::json!(-5)),
        ("neg-clip", "clip", serde_json::json!(-0.01)),
        ("typo", "log_evry", serde_json::json!(5)),
    ] {
        edit_json(&copy_of_done(root, name).join("config.json"), |v| v["config"][key] = value.clone());
    }
    let grid = rundir::sample_grid_file(&copy_of_done(root, "badgrid"), 0);
    let bytes = std::fs::read(&grid).unwrap();
    std::fs::write(&grid, &bytes[..bytes.len() / 2]).unwrap();
    let events = event_file(&copy_of_done(root, "badevents"));
    let mut bytes = std::fs::read(&events).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x08;
    std::fs::write(&events, bytes).unwrap();
    let events = event_file(&copy_of_done(root, "hugelen"));
    let mut bytes = std::fs::read(&events).unwrap();
    let huge = u64::MAX.to_le_bytes();
    bytes.extend_from_slice(&huge);
    bytes.extend_from_slice(&tensorboard_rs::masked_crc32c::masked_crc32c(&huge).to_le_bytes());
    bytes.extend_from_slice(&[0; 32]);
    std::fs::write(&events, bytes).unwrap();

    let sweep = binary("sweep");
    let tiny = ["--cpu", "--batch-size", "8", "--iterations", "1", "--d-iters", "1", "--boost-d-iters", "1"];
    let words = [&[sweep.to_str().unwrap(), "run", "--name", "sw", "--grid", "seed=1,2", "--"][..], &tiny[..]].concat();
    run_in(root, &words);
    std::fs::create_dir(root.join("runs/badplan")).unwrap();
    std::fs::copy(root.join("runs/sw/sweep.json"), root.join("runs/badplan/sweep.json")).unwrap();
    edit_json(&root.join("runs/badplan/sweep.json"), |v| {
        v["name"] = "badplan".into();
        v["engine"] = "slurm".into();
        v["slurm"]["partition"] = "gpu\n#SBATCH --mem=1T".into();
    });

    for file in data::mnist::FILES {
        std::fs::create_dir_all(root.join("bomb-mnist")).unwrap();
        if file.name != "train-labels-idx1-ubyte" {
            std::os::unix::fs::symlink(
                repo().join("data/mnist").join(file.name),
                root.join("bomb-mnist").join(file.name),
            )
            .unwrap();
        }
    }
    run_in(root, &["sh", "-c", "head -c 100000000 /dev/zero | gzip -1 > bomb-mnist/train-labels-idx1-ubyte.gz"]);
}

/// The scratch directory every row runs in:
/// - `data/mnist`: the workspace's verified MNIST (linked);
/// - `runs/done`: a finished 2-iteration run (batch 8), `runs/judge`: a judge;
/// - `runs/corrupt`: a copy of `done` whose generator checkpoint is truncated;
/// - `runs/afile`: a plain file; `out/existing.png`: an existing file;
/// - `flipped-mnist/`: MNIST with one byte of the training labels flipped;
/// - `dir-mnist/`: MNIST with a directory in place of the training labels.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mnist = repo().join("data/mnist");
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::os::unix::fs::symlink(&mnist, root.join("data/mnist")).unwrap();
        for name in ["flipped-mnist", "dir-mnist"] {
            std::fs::create_dir_all(root.join(name)).unwrap();
            for file in data::mnist::FILES {
                std::os::unix::fs::symlink(mnist.join(file.name), root.join(name).join(file.name)).unwrap();
            }
        }
        let labels = root.join("flipped-mnist/train-labels-idx1-ubyte");
        let mut bytes = std::fs::read(&labels).unwrap();
        bytes[3000] ^= 1;
        std::fs::remove_file(&labels).unwrap();
        std::fs::write(&labels, bytes).unwrap();
        std::fs::remove_file(root.join("dir-mnist/train-labels-idx1-ubyte")).unwrap();
        std::fs::create_dir(root.join("dir-mnist/train-labels-idx1-ubyte")).unwrap();

        let trained = Command::new(binary("train"))
            .current_dir(root)
            .args(["--cpu", "--run", "done", "--batch-size", "8", "--d-iters", "1", "--boost-d-iters", "2"])
            .args(["--iterations", "2", "--checkpoint-every", "1"])
            .env("OMP_NUM_THREADS", "1")
            .output()
            .unwrap();
        assert!(trained.status.success(), "{}", String::from_utf8_lossy(&trained.stderr));
        let copy = Command::new("cp").args(["-r", "runs/done", "runs/corrupt"]).current_dir(root).status().unwrap();
        assert!(copy.success());
        let generator = root.join("runs/corrupt/checkpoints/2/generator.safetensors");
        let bytes = std::fs::read(&generator).unwrap();
        std::fs::write(&generator, &bytes[..bytes.len() / 2]).unwrap();
        std::fs::write(root.join("runs/afile"), b"not a run").unwrap();
        std::fs::create_dir_all(root.join("out")).unwrap();
        std::fs::write(root.join("out/existing.png"), b"keep me").unwrap();

        on_disk_fixtures(root);

        // Any judge will do: these rows test refusals, not scores.
        let vs = tch::nn::VarStore::new(tch::Device::Cpu);
        let judge = eval::Judge::new(&vs);
        let test = data::Dataset::split(&mnist, data::Split::Test, tch::Device::Cpu).unwrap();
        let stats = eval::fid::Stats::of(&judge.run(&test.images.narrow(0, 0, 500)).0);
        let config = eval::JudgeConfig { seed: 1, epochs: 1, batch_size: 1, lr: 1e-3 };
        let record = eval::JudgeRecord { config, test_accuracy: 0.1, fid_real: 0.0, train_seconds: 0.0 };
        eval::save_judge(&root.join("runs/judge"), &vs, &record, &stats).unwrap();
        Scratch { dir }
    }

    /// Every file under the scratch directory (links not followed) with its bytes.
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let meta = std::fs::symlink_metadata(&path).unwrap();
                if meta.is_dir() {
                    out.insert(path.clone(), Vec::new());
                    walk(&path, out);
                } else if meta.is_file() {
                    out.insert(path.clone(), std::fs::read(&path).unwrap());
                } else {
                    out.insert(path.clone(), std::fs::read_link(&path).unwrap().into_os_string().into_encoded_bytes());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(self.dir.path(), &mut out);
        out
    }
}

#[test]
fn every_bad_input_in_the_readme_is_refused_cleanly() {
    let rows = table();
    assert!(rows.len() >= 100, "docs/bad-inputs.md's table has {} rows, fewer than it had", rows.len());
    let scratch = Scratch::new();
    let before = scratch.snapshot();
    let cuda = tch::Cuda::is_available();
    let mut failures = Vec::new();
    for row in rows.iter().filter(|r| !(r.without_gpu && cuda)) {
        let words = words(&row.command);
        let out = Command::new(binary(&words[0]))
            .args(&words[1..])
            .current_dir(scratch.dir.path())
            .env("RUST_BACKTRACE", "1")
            .env("OMP_NUM_THREADS", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let problem = if out.status.code() != Some(row.status) {
            Some(format!("exit {:?}, expected {}", out.status.code(), row.status))
        } else if !stderr.contains(&row.message) {
            Some(format!("the message lacks `{}`", row.message))
        } else if !stderr.contains("error: ") || stderr.contains("panicked") || stderr.contains("backtrace") {
            Some("not one clean error".into())
        } else if scratch.snapshot() != before {
            Some("it changed files of the scratch directory".into())
        } else {
            None
        };
        if let Some(problem) = problem {
            failures.push(format!("`{}`: {problem}\n{stderr}", row.command));
        }
    }
    assert!(failures.is_empty(), "{} of {} rows failed:\n{}", failures.len(), rows.len(), failures.join("\n"));
}
