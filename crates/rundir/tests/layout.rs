//! The run directory's rules on real files: sealed checkpoints verified and refused by name,
//! pruning that keeps what it should, atomic writes, and the output rule.

use rundir::checkpoint::{self, Seal};
use std::path::Path;

/// A checkpoint after `done` iterations holding two small files.
fn write_checkpoint(run: &Path, done: u64) -> std::path::PathBuf {
    checkpoint::write(run, done, |dir| {
        std::fs::write(dir.join("generator.safetensors"), format!("weights after {done}"))?;
        std::fs::write(dir.join("state.json"), format!("{{\"iterations_done\": {done}}}"))?;
        Ok(())
    })
    .unwrap()
}

const REQUIRED: [&str; 2] = ["generator.safetensors", "state.json"];

#[test]
fn a_sealed_checkpoint_verifies_and_any_damage_is_named() {
    let run = tempfile::tempdir().unwrap();
    let dir = write_checkpoint(run.path(), 3);
    assert_eq!(checkpoint::verify(&dir, &REQUIRED).unwrap(), Seal::Verified);
    let sums = std::fs::read_to_string(dir.join(checkpoint::CHECKSUMS_FILE)).unwrap();
    assert_eq!(sums.lines().count(), 2, "{sums}");
    assert!(sums.lines().all(|l| l.len() > 66 && l.as_bytes()[64..66] == *b"  "), "sha256sum's format: {sums}");

    // One flipped byte.
    let file = dir.join("generator.safetensors");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&file, &bytes).unwrap();
    let err = format!("{:#}", checkpoint::verify(&dir, &REQUIRED).unwrap_err());
    assert!(err.contains("generator.safetensors is damaged"), "{err}");

    // A file the checksums do not list as required, and a file gone.
    bytes[0] ^= 1;
    std::fs::write(&file, &bytes).unwrap();
    let err = format!("{:#}", checkpoint::verify(&dir, &["critic.safetensors"]).unwrap_err());
    assert!(err.contains("does not list critic.safetensors"), "{err}");
    std::fs::remove_file(dir.join("state.json")).unwrap();
    let err = format!("{:#}", checkpoint::verify(&dir, &REQUIRED).unwrap_err());
    assert!(err.contains("state.json is missing"), "{err}");

    // A checksum list that is not one.
    std::fs::write(dir.join(checkpoint::CHECKSUMS_FILE), "0123  ../../etc/passwd\n").unwrap();
    let err = format!("{:#}", checkpoint::verify(&dir, &REQUIRED).unwrap_err());
    assert!(err.contains("line 1: not '<sha256>  <file name>'"), "{err}");
}

#[test]
fn find_refuses_a_damaged_or_stray_newest_checkpoint_and_names_the_intact_one() {
    let run = tempfile::tempdir().unwrap();
    write_checkpoint(run.path(), 2);
    write_checkpoint(run.path(), 4);
    assert_eq!(checkpoint::find(run.path(), None, &REQUIRED).unwrap().0, 4);

    // A stray numbered directory: newer, but not a checkpoint.
    let stray = checkpoint::dir(run.path()).join("99");
    std::fs::create_dir_all(&stray).unwrap();
    let err = format!("{:#}", checkpoint::find(run.path(), None, &REQUIRED).unwrap_err());
    assert!(err.contains("checkpoints/99") && err.contains("not a complete checkpoint"), "{err}");
    assert!(
        err.contains("the newest intact checkpoint is") && err.contains("checkpoints/4: move the damaged one aside"),
        "{err}"
    );
    let aside = checkpoint::dir(run.path()).join("damaged-99");
    assert!(err.contains(&format!("mv {} {}", stray.display(), aside.display())), "{err}");

    // Moved aside as the message says, the run continues from 4; names that are not canonical
    // numbers are not checkpoints.
    std::fs::rename(&stray, &aside).unwrap();
    std::fs::create_dir_all(checkpoint::dir(run.path()).join("0004")).unwrap();
    assert_eq!(checkpoint::find(run.path(), None, &REQUIRED).unwrap().0, 4);
    assert_eq!(checkpoint::list(run.path()).unwrap().iter().map(|c| c.0).collect::<Vec<_>>(), [2, 4]);

    // No intact one at all.
    let lone = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(checkpoint::dir(lone.path()).join("7")).unwrap();
    let err = format!("{:#}", checkpoint::find(lone.path(), None, &REQUIRED).unwrap_err());
    assert!(err.contains("no older checkpoint is intact"), "{err}");
}

#[test]
fn an_unsealed_checkpoint_of_an_earlier_version_is_accepted_when_complete() {
    let run = tempfile::tempdir().unwrap();
    let dir = checkpoint::dir(run.path()).join("5");
    std::fs::create_dir_all(&dir).unwrap();
    for f in REQUIRED {
        std::fs::write(dir.join(f), "x").unwrap();
    }
    assert_eq!(checkpoint::find(run.path(), None, &REQUIRED).unwrap().2, Seal::Unsealed);
    std::fs::remove_file(dir.join("state.json")).unwrap();
    assert!(checkpoint::find(run.path(), None, &REQUIRED).is_err());
}

#[test]
fn pruning_keeps_the_newest_three_and_the_multiples_of_keep_every() {
    let run = tempfile::tempdir().unwrap();
    for done in (1..=10).map(|k| k * 100) {
        write_checkpoint(run.path(), done);
        checkpoint::prune(run.path(), 400).unwrap();
    }
    let kept: Vec<u64> = checkpoint::list(run.path()).unwrap().iter().map(|c| c.0).collect();
    assert_eq!(kept, [400, 800, 900, 1000]);
    let leftovers: Vec<_> = std::fs::read_dir(checkpoint::dir(run.path())).unwrap().collect();
    assert_eq!(leftovers.len(), 4, "nothing but the kept checkpoints remains");
}

#[test]
fn atomic_writes_replace_whole_and_leave_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    rundir::atomic::write_json(&file, &serde_json::json!({"a": 1})).unwrap();
    rundir::atomic::write_json(&file, &serde_json::json!({"a": 2})).unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{\n  \"a\": 2\n}\n");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // A write that cannot happen leaves the old file and no temporary one.
    let err = rundir::atomic::write_bytes(&dir.path().join("missing/x.json"), b"x").unwrap_err();
    assert!(format!("{err:#}").contains("cannot write"));

    let target = dir.path().join("judge");
    rundir::atomic::write_dir(&target, |d| Ok(std::fs::write(d.join("old"), "1")?)).unwrap();
    rundir::atomic::write_dir(&target, |d| Ok(std::fs::write(d.join("new"), "2")?)).unwrap();
    let names: Vec<String> =
        std::fs::read_dir(&target).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names, ["new"]);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "config.json and judge/ only");
}

#[test]
fn the_output_rule_protects_runs_sweeps_and_existing_files() {
    let root = tempfile::tempdir().unwrap();
    let run = root.path().join("runs/B");
    std::fs::create_dir_all(run.join("samples")).unwrap();
    std::fs::write(run.join(rundir::CONFIG_FILE), "{}").unwrap();
    let sweep = root.path().join("runs/s");
    std::fs::create_dir_all(&sweep).unwrap();
    std::fs::write(sweep.join(rundir::SWEEP_PLAN_FILE), "{}").unwrap();
    std::fs::write(root.path().join("kept.csv"), "x").unwrap();
    let check = |p: &Path, force: bool| rundir::output::check(p, force, |_| false).map_err(|e| format!("{e:#}"));

    assert!(check(&run.join("config.json"), true).unwrap_err().contains("inside the run directory"));
    assert!(check(&run.join("samples/x.png"), true).unwrap_err().contains("inside the run directory"));
    assert!(check(&sweep.join("sweep.json"), true).unwrap_err().contains("inside the sweep directory"));
    assert!(check(&root.path().join("kept.csv"), false).unwrap_err().contains("pass --force"));
    assert!(check(&root.path().join("kept.csv"), true).is_ok());
    assert!(check(&root.path().join("runs"), true).unwrap_err().contains("not a regular file"));
    assert!(check(&root.path().join("new.csv"), false).is_ok());
    assert!(rundir::output::check(&run.join("samples/sample_1.png"), false, |_| true).is_ok(), "a tool's own name");

    let dir_err = |p: &Path| format!("{:#}", rundir::output::check_dir(p, "a judge").unwrap_err());
    assert!(dir_err(&run).contains("is the run directory"));
    assert!(dir_err(&run.join("judge")).contains("is inside the run directory"));
    assert!(rundir::output::check_dir(&root.path().join("runs/judge"), "a judge").is_ok());
}

#[test]
fn records_are_refused_when_too_large_or_malformed() {
    let run = tempfile::tempdir().unwrap();
    std::fs::write(run.path().join(rundir::CONFIG_FILE), "not json").unwrap();
    let err = format!("{:#}", rundir::record::read::<serde_json::Value>(run.path()).unwrap_err());
    assert!(err.contains("is not a run record"), "{err}");
    std::fs::write(run.path().join(rundir::CONFIG_FILE), vec![b' '; 2 << 20]).unwrap();
    let err = format!("{:#}", rundir::record::read::<serde_json::Value>(run.path()).unwrap_err());
    assert!(err.contains("more than such a file ever holds"), "{err}");
}
