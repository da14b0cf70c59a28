//! Bit-exact resume, every time: a run killed anywhere (at random moments, and exactly in the
//! middle of a checkpoint write, right after one, during pruning and right after logging, through
//! `WGAN_FAILPOINT`), then resumed (or, killed before its directory held a run, started again),
//! ends with the bytes and the logged values of a run never interrupted, and no leftovers.

mod common;
use common::*;
use std::path::Path;

const ITERATIONS: &str = "24";

fn flags() -> Vec<&'static str> {
    [&TINY[..], &["--iterations", ITERATIONS, "--checkpoint-every", "4", "--seed", "5"]].concat()
}

/// A finished run's final checkpoint bytes and logged scalars.
type EndState = (Vec<Vec<u8>>, Vec<(String, u64, f32)>);

fn end_state(dir: &Path) -> EndState {
    (checkpoint_bytes(dir, 24), scalars(dir))
}

/// The run's state after resuming it to the end.
fn finish(runs: &Path, run: &str) -> EndState {
    let dir = runs.join(run);
    assert!(!dir.join("checkpoints/24").exists(), "{run} finished before it was killed");
    let resumed = ok(train(runs, run, &["--cpu", "--resume"]));
    assert!(String::from_utf8_lossy(&resumed.stdout).contains("of 24 iterations done"));
    let leftovers: Vec<String> = std::fs::read_dir(dir.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{run}: leftovers {leftovers:?}");
    end_state(&dir)
}

/// Starts the run and returns once its directory is created (its config.json exists), so that a
/// kill lands in the training, not in the start-up, whose length varies by machine.
fn start(runs: &Path, run: &str) -> std::process::Child {
    let mut child = train_command(runs, run, &flags()).stdout(std::process::Stdio::null()).spawn().unwrap();
    let config = runs.join(run).join(rundir::CONFIG_FILE);
    while !config.exists() {
        assert!(child.try_wait().unwrap().is_none(), "{run} ended before creating its run directory");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child
}

#[test]
fn a_run_killed_anywhere_resumes_to_the_same_bytes() {
    let runs = tempfile::tempdir().unwrap();
    let mut child = start(runs.path(), "straight");
    assert!(child.wait().unwrap().success());
    let straight = end_state(&runs.path().join("straight"));

    // Killed while creating its directory: no run yet, and a fresh start is no dead end.
    let died = train_command(runs.path(), "unborn", &flags()).env("WGAN_FAILPOINT", "run-created:1").output().unwrap();
    assert!(!died.status.success() && runs.path().join("unborn").is_dir());
    ok(train(runs.path(), "unborn", &flags()));
    assert!(end_state(&runs.path().join("unborn")) == straight, "started over: differs from the straight run");

    // Exactly at the points a timed kill rarely hits (the k-th time each is reached).
    let points =
        ["checkpoint-write:1", "checkpoint-write:3", "checkpoint-renamed:2", "pruning:1", "pruning:2", "logged:5"];
    for (i, point) in points.iter().enumerate() {
        let run = format!("fail{i}");
        let died = train_command(runs.path(), &run, &flags()).env("WGAN_FAILPOINT", point).output().unwrap();
        assert!(!died.status.success(), "{point}: the run did not die there");
        assert!(finish(runs.path(), &run) == straight, "killed at {point}, resumed: differs from the straight run");
    }

    // At moments spread over the training (SIGKILL): a fraction of the way from one checkpoint to
    // the next, clocked by this run's own pace between its previous two checkpoints, so that the
    // kill lands in the training whatever else the machine is doing.
    for (i, (after, fraction)) in [(8, 0.2), (12, 0.45), (16, 0.7)].into_iter().enumerate() {
        let run = format!("timed{i}");
        let mut child = start(runs.path(), &run);
        let checkpoints = runs.path().join(&run).join("checkpoints");
        let appeared = |k: u64| {
            while !checkpoints.join(k.to_string()).exists() {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            std::time::Instant::now()
        };
        let previous = appeared(after - 4);
        let pace = appeared(after) - previous;
        std::thread::sleep(pace.mul_f64(fraction));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            finish(runs.path(), &run) == straight,
            "SIGKILL {fraction} of the way after checkpoint {after}, resumed: differs from the straight run"
        );
    }
}

/// Every file of a run directory with its bytes.
fn files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out.sort();
    out
}

/// A kind of damage, and what does it to a checkpoint directory.
type Damage<'a> = (&'a str, &'a dyn Fn(&Path));

#[test]
fn a_damaged_checkpoint_is_refused_and_the_run_resumes_from_the_newest_intact_one() {
    let runs = tempfile::tempdir().unwrap();
    ok(train(runs.path(), "straight", &flags()));
    let straight = end_state(&runs.path().join("straight"));
    let damages: [Damage; 7] = [
        ("a flipped byte", &|c| {
            let file = c.join("critic.safetensors");
            let mut bytes = std::fs::read(&file).unwrap();
            let at = bytes.len() - 100;
            bytes[at] ^= 0x10;
            std::fs::write(file, bytes).unwrap();
        }),
        ("a truncated file", &|c| {
            let file = c.join("generator.safetensors");
            let bytes = std::fs::read(&file).unwrap();
            std::fs::write(file, &bytes[..bytes.len() / 2]).unwrap();
        }),
        ("a missing file", &|c| std::fs::remove_file(c.join("rmsprop_critic.safetensors")).unwrap()),
        ("a stray newer directory", &|c| std::fs::create_dir(c.with_file_name("28")).unwrap()),
        ("an edited state, resealed", &|c| {
            let state = std::fs::read_to_string(c.join("state.json")).unwrap();
            std::fs::write(
                c.join("state.json"),
                state.replace("\"iterations_done\": 20", "\"iterations_done\": 99999"),
            )
            .unwrap();
            reseal(c);
        }),
        ("an optimizer state of another shape, resealed", &|c| {
            edit_tensors(&c.join("rmsprop_critic.safetensors"), |name, t| {
                if name.ends_with("conv_1.bias") {
                    tch::Tensor::zeros([7], (t.kind(), t.device()))
                } else {
                    t
                }
            });
            reseal(c);
        }),
        ("NaN weights, resealed", &|c| {
            edit_tensors(&c.join("generator.safetensors"), |name, t| {
                if name.ends_with("dense_1.weight") {
                    t.fill(f64::NAN)
                } else {
                    t
                }
            });
            reseal(c);
        }),
    ];
    for (i, (what, damage)) in damages.iter().enumerate() {
        let run = format!("damaged{i}");
        let dir = runs.path().join(&run);
        let to_20: Vec<&str> = flags().into_iter().map(|f| if f == ITERATIONS { "20" } else { f }).collect();
        ok(train(runs.path(), &run, &to_20));
        damage(&dir.join("checkpoints/20"));
        let before = files(&dir);
        let refused = train(runs.path(), &run, &["--cpu", "--resume", "--iterations", "24"]);
        let message = clean_failure(refused);
        assert!(files(&dir) == before, "{what}: the refused resume changed the run");
        // The stray directory is newer than checkpoint 20, which stays intact; the rest damage 20.
        let newest_intact = if what.contains("stray") { "checkpoints/20" } else { "checkpoints/16" };
        let intact = format!("the newest intact checkpoint is {}", dir.join(newest_intact).display());
        assert!(message.contains(&intact), "{what}: {message}");
        // Do what the message says: move the damaged checkpoint aside, then resume.
        let mv = message.split("(mv ").nth(1).and_then(|m| m.split(')').next()).expect("the message names a mv");
        let (from, to) = mv.split_once(' ').unwrap();
        std::fs::rename(from, to).unwrap();
        ok(train(runs.path(), &run, &["--cpu", "--resume", "--iterations", "24"]));
        assert!(end_state(&dir) == straight, "{what}: resumed from the intact checkpoint, the run differs");
    }
}
