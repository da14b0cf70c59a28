//! Sweeps on a real Slurm: a single-node cluster (slurmctld + slurmd + munge, scripts/slurm-cluster)
//! started for this test and stopped after it. A 3-run array job runs to the end; then a task is
//! cancelled mid-way (scancel), resubmitted, and must end bit-identical to an uninterrupted run.
//! Needs Slurm installed (`scripts/slurm-cluster install`, which scripts/test runs) and root.

#[path = "../../train/tests/common/mod.rs"]
mod common;
use common::{checkpoint_bytes, TINY};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The cluster of this test; stopped when dropped, also when the test fails.
struct Cluster {
    dir: tempfile::TempDir,
    port: u32,
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let port = 7000 + (std::process::id() % 500) * 2;
        let out = Cluster::script(dir.path(), port, "start");
        assert!(
            out.status.success(),
            "cannot start Slurm (install it with `scripts/slurm-cluster install` as root):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Cluster { dir, port }
    }

    fn script(dir: &Path, port: u32, verb: &str) -> Output {
        Command::new(repo().join("scripts/slurm-cluster"))
            .arg(verb)
            .env("SLURM_CLUSTER_DIR", dir)
            .env("SLURM_CLUSTER_PORT", port.to_string())
            .output()
            .unwrap()
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("slurm.conf")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        Cluster::script(self.dir.path(), self.port, "stop");
    }
}

fn sweep(cluster: &Cluster, runs: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sweep"))
        .current_dir(repo())
        .arg("--runs-dir")
        .arg(runs)
        .args(args)
        .env("SLURM_CONF", cluster.conf())
        // Each task trains on one thread: tasks share this machine's cores.
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap()
}

/// What a successful command printed (common::ok fails the test otherwise).
fn printed(out: Output) -> String {
    String::from_utf8_lossy(&common::ok(out).stdout).into_owned()
}

/// `sweep status` rows as (run, done, total, state).
fn status(cluster: &Cluster, runs: &Path, name: &str) -> Vec<(String, u64, u64, String)> {
    printed(sweep(cluster, runs, &["status", "--name", name]))
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (done, total) = f[1].split_once('/').unwrap();
            (f[0].to_string(), done.parse().unwrap(), total.parse().unwrap(), f[2].to_string())
        })
        .collect()
}

/// Polls `sweep status` until `until` holds for its rows (Slurm schedules on its own time).
fn wait_for(
    cluster: &Cluster,
    runs: &Path,
    name: &str,
    what: &str,
    until: impl Fn(&[(String, u64, u64, String)]) -> bool,
) -> Vec<(String, u64, u64, String)> {
    let started = Instant::now();
    loop {
        let rows = status(cluster, runs, name);
        if until(&rows) {
            return rows;
        }
        assert!(started.elapsed() < Duration::from_secs(600), "gave up waiting for {what}: {rows:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn array_job_runs_and_a_cancelled_task_resumes_bit_exactly() {
    let cluster = Cluster::start();
    let runs = tempfile::tempdir().unwrap();

    // Three runs, one array job.
    let flags = [
        &["--name", "trio", "--engine", "slurm", "--grid", "seed=1,2,3", "--"][..],
        &TINY,
        &["--iterations", "6", "--checkpoint-every", "3"],
    ]
    .concat();
    let submitted = printed(sweep(&cluster, runs.path(), &[&["run"][..], &flags].concat()));
    assert!(submitted.contains("submitted array job") && submitted.contains("3 task(s)"), "{submitted}");
    let script = std::fs::read_to_string(runs.path().join("trio/job.sh")).unwrap();
    assert!(script.contains("#SBATCH --requeue") && !script.contains("--gres"), "{script}");
    let rows = wait_for(&cluster, runs.path(), "trio", "the array job", |r| r.iter().all(|x| x.3 == "done"));
    assert_eq!(rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ["B-seed1", "B-seed2", "B-seed3"]);
    for (name, done, total, _) in &rows {
        assert_eq!((*done, *total), (6, 6));
        let dir = runs.path().join("trio").join(name);
        let steps: Vec<u64> =
            logging::tensorboard::read_scalars(&dir, rundir::tags::D_LOSS).unwrap().iter().map(|s| s.0).collect();
        assert_eq!(steps, [0, 2, 4], "{name}");
        assert_eq!(checkpoint_bytes(&dir, 6).len(), 4);
    }
    let table = printed(sweep(&cluster, runs.path(), &["compare", "--name", "trio"]));
    assert!(table.contains("B-seed2") && runs.path().join("trio/compare.csv").is_file(), "{table}");

    // A task cancelled mid-way, then resubmitted: the same bytes as one uninterrupted run.
    let long = [&TINY[..], &["--iterations", "160", "--checkpoint-every", "10", "--seed", "9"]].concat();
    printed(sweep(
        &cluster,
        runs.path(),
        &[&["run", "--name", "cut", "--engine", "slurm", "--grid", "clip=0.02", "--"][..], &long].concat(),
    ));
    wait_for(&cluster, runs.path(), "cut", "a checkpoint", |r| r[0].3 == "running" && r[0].1 >= 20);
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(runs.path().join("cut/sweep.json")).unwrap()).unwrap();
    let job = plan["submissions"][0]["job_id"].as_str().unwrap().to_string();
    let cancel = Command::new("scancel").arg(&job).env("SLURM_CONF", cluster.conf()).output().unwrap();
    assert!(cancel.status.success());
    let rows = wait_for(&cluster, runs.path(), "cut", "the cancelled task to leave the queue", |r| r[0].3 == "failed");
    assert!(rows[0].1 < 160, "the task was cancelled after the end: {rows:?}");
    let resubmitted = printed(sweep(&cluster, runs.path(), &["submit", "--name", "cut"]));
    assert!(resubmitted.contains("1 task(s)"), "{resubmitted}");
    wait_for(&cluster, runs.path(), "cut", "the resubmitted task", |r| r[0].3 == "done");
    let log = std::fs::read_dir(runs.path().join("cut/slurm")).unwrap().count();
    assert_eq!(log, 2, "one log per submission");

    let reference = Command::new(common::binary("train"))
        .current_dir(repo())
        .args(["--runs-dir", runs.path().to_str().unwrap(), "--run", "straight", "--clip", "0.02"])
        .args(&long)
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap();
    printed(reference);
    assert!(
        checkpoint_bytes(&runs.path().join("cut/B-clip0.02"), 160)
            == checkpoint_bytes(&runs.path().join("straight"), 160),
        "cancelled + resubmitted differs from the uninterrupted run"
    );
}
