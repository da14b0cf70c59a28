//! Sweep plans: what goes into a job script is checked, a grid's size is capped before it is
//! expanded, and two runs that would train the same thing are refused.

use std::path::Path;
use sweep::{parse_grid, slurm_name, slurm_time, Engine, Plan, SlurmOptions};

fn plan(grid: &[&str], fixed: &[&str], engine: Engine) -> anyhow::Result<Plan> {
    let grid = grid.iter().map(|g| parse_grid(g).unwrap()).collect();
    Plan::new("s", "B", grid, fixed.iter().map(|f| f.to_string()).collect(), engine, SlurmOptions::default())
}

fn refusal(result: anyhow::Result<Plan>) -> String {
    format!("{:#}", result.expect_err("the plan should be refused"))
}

#[test]
fn slurm_values_are_what_slurm_takes_and_nothing_else() {
    for good in ["gpu", "long_q", "a.b-c", "p1,p2"] {
        assert!(slurm_name(good).is_ok(), "{good}");
    }
    for bad in ["", "a b", "a\n#SBATCH --mem=1T", "x;rm", "$(id)"] {
        assert!(slurm_name(bad).is_err(), "{bad:?}");
    }
    for good in ["60", "30:00", "24:00:00", "2-00", "2-00:00:00"] {
        assert!(slurm_time(good).is_ok(), "{good}");
    }
    for bad in ["", "1h", "1:2:3:4", "24:00\n#SBATCH", "-5"] {
        assert!(slurm_time(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn grids_are_capped_deduplicated_and_gpu_aware() {
    let big = refusal(plan(
        &["seed=1,2,3,4,5,6", "clip=1,2,3,4,5,6", "lr=1,2,3,4,5,6", "d-iters=1,2,3,4,5,6"],
        &[],
        Engine::Local,
    ));
    assert!(big.contains("the grid has 1296 runs; a sweep plans at most 1000"), "{big}");
    let twins = refusal(plan(&["seed=1,01"], &[], Engine::Local));
    assert!(twins.contains("runs B-seed1 and B-seed01 would train the same thing"), "{twins}");
    let gpu_grid = refusal(plan(&["gpu=0,1"], &[], Engine::Slurm));
    assert!(gpu_grid.contains("leave gpu out of the grid"), "{gpu_grid}");

    let on_gpu = plan(&["seed=1,2"], &["--gpu", "0"], Engine::Slurm).unwrap();
    let script = on_gpu.job_script(Path::new("/runs/s"), Path::new("/bin/sweep"), Path::new("/runs"));
    assert!(script.contains("#SBATCH --gres=gpu:1"), "{script}");
    // Here the runs would differ only in the device they use, one after another: the same thing.
    assert!(refusal(plan(&["gpu=0,1"], &[], Engine::Local)).contains("would train the same thing"));
    assert!(!plan(&["seed=1,2"], &[], Engine::Local).unwrap().uses_gpu());
}

#[test]
fn a_plan_edited_on_disk_is_checked_before_anything_is_submitted() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = plan(&["seed=1,2"], &[], Engine::Slurm).unwrap();
    p.slurm.partition = Some("gpu\n#SBATCH --mem=1T".into());
    p.save(dir.path()).unwrap();
    let err = format!("{:#}", Plan::load(dir.path()).unwrap_err());
    assert!(err.contains("is not a usable sweep plan: partition"), "{err}");

    let mut p = plan(&["seed=1,2"], &[], Engine::Slurm).unwrap();
    p.runs[1].name = "../elsewhere".into();
    p.save(dir.path()).unwrap();
    let err = format!("{:#}", Plan::load(dir.path()).unwrap_err());
    assert!(err.contains("run name '../elsewhere'"), "{err}");
}
