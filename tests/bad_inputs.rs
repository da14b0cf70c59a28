//! Every row of the README's bad-input table, run as a user types it: the exit status, the
//! message, no panic or backtrace (RUST_BACKTRACE=1 is set), and no file of an existing run,
//! judge or data set changed. Rows run in one scratch directory (see `Scratch`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace's binaries, built by `cargo test --workspace` beside this test's directory.
fn binary(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    let path = deps.parent().unwrap().join(name);
    assert!(path.is_file(), "{} is not built (run the tests with --workspace)", path.display());
    path
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
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let section = readme.split("\n## Bad input").nth(1).expect("README has a '## Bad input' section");
    let section = section.split("\n## ").next().unwrap();
    section
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
    assert!(rows.len() >= 40, "the README's table has {} rows; the issue asks for at least 40", rows.len());
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
