//! The `grids` tool on run directories as training leaves them: each grid lands whole in its row
//! and column, iterations some run lacks are left out, and bad grids or outputs are refused.

use ndarray::Array2;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SIZE: (usize, usize) = (30, 40);

/// A grid of pseudo-random pixels, different for every `seed`.
fn grid(seed: u64, (h, w): (usize, usize)) -> Array2<u8> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    Array2::from_shape_fn((h, w), |_| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 56) as u8
    })
}

/// A run directory holding a record and the grids `(iteration, grid)`.
fn fake_run(runs: &Path, name: &str, grids: &[(u64, &Array2<u8>)]) -> PathBuf {
    let dir = runs.join(name);
    std::fs::create_dir_all(dir.join(rundir::SAMPLES_DIR)).unwrap();
    std::fs::write(dir.join(rundir::CONFIG_FILE), "{}").unwrap();
    for (it, g) in grids {
        logging::write_gray_png(&rundir::sample_grid_file(&dir, *it), &g.view()).unwrap();
    }
    dir
}

fn grids(runs: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_grids")).args(["--runs-dir", runs.to_str().unwrap()]).args(args).output().unwrap()
}

/// Where `part` lies in `sheet` (top-left corner), if it lies there whole exactly once.
fn find(sheet: &Array2<u8>, part: &Array2<u8>) -> Option<(usize, usize)> {
    let ((sh, sw), (h, w)) = (sheet.dim(), part.dim());
    let hits: Vec<_> = (0..=sh - h)
        .flat_map(|y| (0..=sw - w).map(move |x| (y, x)))
        .filter(|&(y, x)| sheet.slice(ndarray::s![y..y + h, x..x + w]) == part)
        .collect();
    (hits.len() == 1).then(|| hits[0])
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn lays_out_a_row_per_run_and_a_column_per_iteration_every_run_has() {
    let runs = tempfile::tempdir().unwrap();
    let (a1, a2, a4, b1, b2) = (grid(1, SIZE), grid(2, SIZE), grid(3, SIZE), grid(4, SIZE), grid(5, SIZE));
    fake_run(runs.path(), "a", &[(1000, &a1), (2000, &a2), (4000, &a4)]);
    fake_run(runs.path(), "b", &[(1000, &b1), (2000, &b2)]);
    let out = runs.path().join("a-vs-b.png");
    let o = grids(runs.path(), &["--run", "a", "--run", "b", "--at", "1000,2000,4000", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("iteration 4,000: no grid in run b; left out"), "{}", stderr(&o));

    let sheet = logging::read_gray_png(&std::fs::read(&out).unwrap()).unwrap();
    let at = |g: &Array2<u8>| find(&sheet, g).unwrap_or_else(|| panic!("a grid is not in the sheet whole"));
    let ((ya1, xa1), (ya2, xa2), (yb1, xb1), (yb2, xb2)) = (at(&a1), at(&a2), at(&b1), at(&b2));
    assert_eq!((ya1, xb1, xb2), (ya2, xa1, xa2), "rows are runs, columns are iterations");
    assert_eq!(yb1, yb2);
    assert!(ya1 < yb1 && xa1 < xa2, "runs in the order given, iterations in order");
    assert!(ya1 > 0 && xa1 > 0, "room for the labels above and on the left");
    assert_eq!(find(&sheet, &a4), None, "an iteration one run lacks is left out");
}

#[test]
fn refuses_when_no_iteration_is_in_every_run() {
    let runs = tempfile::tempdir().unwrap();
    fake_run(runs.path(), "a", &[(1000, &grid(1, SIZE))]);
    fake_run(runs.path(), "b", &[(2000, &grid(2, SIZE))]);
    let out = runs.path().join("x.png");
    let o = grids(runs.path(), &["--run", "a", "--run", "b", "--at", "1000,2000", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no iteration of --at [1000, 2000] has a grid in every run"), "{}", stderr(&o));
    assert!(!out.exists());
}

#[test]
fn names_a_grid_that_is_not_a_png_or_too_large_and_grids_of_other_sizes() {
    let runs = tempfile::tempdir().unwrap();
    let a = fake_run(runs.path(), "a", &[(1000, &grid(1, SIZE))]);
    fake_run(runs.path(), "b", &[(1000, &grid(2, (SIZE.0, SIZE.0)))]);
    let o = grids(runs.path(), &["--run", "a", "--run", "b", "--at", "1000"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("the grids differ in size"), "{}", stderr(&o));

    let bad = rundir::sample_grid_file(&a, 1000);
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\n truncated").unwrap();
    let o = grids(runs.path(), &["--run", "a", "--at", "1000"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(&format!("{} is not a readable PNG", bad.display())), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));

    std::fs::File::create(&bad).unwrap().set_len(17 << 20).unwrap();
    let o = grids(runs.path(), &["--run", "a", "--at", "1000"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(&format!("{} is 17825792 bytes, more than", bad.display())), "{}", stderr(&o));
}

#[test]
fn keeps_an_existing_output_unless_forced_and_needs_runs() {
    let runs = tempfile::tempdir().unwrap();
    let g = grid(1, SIZE);
    fake_run(runs.path(), "a", &[(2000, &g)]);
    let out = runs.path().join("sheet.png");
    std::fs::write(&out, "kept").unwrap();
    let o = grids(runs.path(), &["--run", "a", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("exists; pass --force"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "kept");

    let o = grids(runs.path(), &["--run", "a", "--out", out.to_str().unwrap(), "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let sheet = logging::read_gray_png(&std::fs::read(&out).unwrap()).unwrap();
    assert!(find(&sheet, &g).is_some(), "the default --at begins at 2,000");

    let o = grids(runs.path(), &["--run", "missing"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("holds no run"), "{}", stderr(&o));
}
