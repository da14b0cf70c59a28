//! `eval plot` on event files as training writes them: a plain run and a resumed one (whose session
//! marker replaces the steps it repeats), drawn into a PNG of the documented size.

use eval::plot::{smooth, Curves, HEIGHT, WIDTH};
use logging::tensorboard::EventWriter;
use rundir::record::{RunRecord, Session};
use std::path::Path;
use std::process::Command;

/// A run directory with a record naming its judge, and a D-loss curve `f(step)` logged every 10
/// steps; `resume_at` splits it into two sessions, the first of which logged past the split.
fn fake_run(dir: &Path, judge: &str, resume_at: Option<u64>, f: impl Fn(u64) -> f32) {
    std::fs::create_dir_all(dir).unwrap();
    let session = Session {
        started_unix: 0,
        start_iteration: 0,
        device: "Cpu".into(),
        tch: "test".into(),
        libtorch: "test".into(),
        git_commit: "test".into(),
        command: vec![],
        judge_sha256: Some(judge.into()),
    };
    rundir::record::write(dir, &RunRecord { config: serde_json::json!({}), sessions: vec![session] }).unwrap();
    let split = resume_at.unwrap_or(1000);
    let mut w = EventWriter::open(dir, 0).unwrap();
    for step in (0..(split + 30).min(1000)).step_by(10) {
        // The first session's values past the split are stale: the resumed session replaces them.
        let value = if step >= split { -99.0 } else { f(step) };
        w.scalar("D loss (-1*D_real_is_fake - D_fake_is_fake)", value, step).unwrap();
        w.scalar("eval/fid", 500.0 - step as f32 * 0.4, step).unwrap();
    }
    drop(w);
    if let Some(at) = resume_at {
        let mut w = EventWriter::open(dir, at).unwrap();
        for step in (at..1000).step_by(10) {
            w.scalar("D loss (-1*D_real_is_fake - D_fake_is_fake)", f(step), step).unwrap();
        }
    }
}

fn plot(runs: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_eval"))
        .args(["plot", "--runs-dir", runs.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn plots_plain_and_resumed_runs_into_a_png() {
    let runs = tempfile::tempdir().unwrap();
    let curve = |s: u64| 5.0 * (-(s as f32) / 300.0).exp();
    fake_run(&runs.path().join("plain"), "aaaa", None, curve);
    fake_run(&runs.path().join("resumed"), "aaaa", Some(500), curve);

    // The session marker drops the first session's values from step 500 on.
    let resumed = Curves::load("resumed", &runs.path().join("resumed")).unwrap();
    let plain = Curves::load("plain", &runs.path().join("plain")).unwrap();
    let tag = "D loss (-1*D_real_is_fake - D_fake_is_fake)";
    assert_eq!(resumed.series[tag], plain.series[tag]);
    assert_eq!(resumed.series[tag].len(), 100);
    assert_eq!(resumed.judge.as_deref(), Some("aaaa"));

    let out = plot(runs.path(), &["--run", "plain", "--run", "resumed"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let png = std::fs::read(runs.path().join("curves.png")).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(&png));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
    // Both runs' colors are drawn (tab10 blue and orange).
    let has = |rgb: [u8; 3]| pixels.chunks(3).any(|p| p == rgb);
    assert!(has([31, 119, 180]) && has([255, 127, 14]), "the two runs' lines are missing");

    // The first 300 steps only (comparing a short run with the start of a long one).
    let early = runs.path().join("early.png");
    assert!(plot(runs.path(), &["--run", "plain", "--until", "300", "--out", early.to_str().unwrap()])
        .status
        .success());
    assert!(early.is_file());

    // A single run goes to its own directory; an existing --out needs --force; a run's own file never.
    assert!(plot(runs.path(), &["--run", "plain"]).status.success());
    assert!(runs.path().join("plain/curves.png").is_file());
    let taken = runs.path().join("taken.png");
    std::fs::write(&taken, b"x").unwrap();
    let refused = plot(runs.path(), &["--run", "plain", "--out", taken.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--force"));
    assert_eq!(std::fs::read(&taken).unwrap(), b"x");
    let config = runs.path().join("plain/config.json");
    let refused = plot(runs.path(), &["--run", "plain", "--out", config.to_str().unwrap(), "--force"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("inside the run directory"));
}

#[test]
fn runs_scored_by_different_judges_are_flagged() {
    let runs = tempfile::tempdir().unwrap();
    fake_run(&runs.path().join("a"), "aaaa", None, |s| s as f32);
    fake_run(&runs.path().join("b"), "bbbb", None, |s| s as f32);
    let out = plot(runs.path(), &["--all"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 different judges"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 run(s)"));
}

#[test]
fn curve_differences_use_the_steps_both_logged() {
    let a = [(0, 1.0), (10, 2.0), (20, 4.0)];
    let b = [(10, 1.0), (20, 1.0), (30, 9.0)];
    // Steps 10 and 20: differences 1 and 3, RMS sqrt(5).
    assert_eq!(eval::plot::rms_difference(&a, &b), Some(5f64.sqrt()));
    assert_eq!(eval::plot::rms_difference(&a, &[(5, 1.0)]), None);
}

#[test]
fn smoothing_is_tensorboards_debiased_moving_average() {
    // By hand: last = 0.6*last + 0.4*v; shown = last / (1 - 0.6^k).
    let got = smooth(&[1.0, 3.0, 2.0], 0.6);
    let expected = [0.4 / 0.4, (0.24 + 1.2) / 0.64, ((0.24 + 1.2) * 0.6 + 0.8) / (1.0 - 0.216)];
    for (g, e) in got.iter().zip(expected) {
        assert!((g - e).abs() < 1e-12, "{got:?} vs {expected:?}");
    }
    assert_eq!(smooth(&[2.0, 2.0, 2.0], 0.9), [2.0, 2.0, 2.0]);
}

#[test]
fn a_missing_run_is_a_clear_error() {
    let runs = tempfile::tempdir().unwrap();
    let out = plot(runs.path(), &["--run", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: there is no run directory"));
}

#[test]
fn lines_leave_the_panel_where_they_cross_its_band() {
    use eval::plot::clip_to_band;
    // Inside, out through the top at x = 1.5, back in at x = 2.5, out through the bottom.
    let points = [(0.0, 0.0), (1.0, 0.5), (2.0, 1.5), (3.0, 0.5), (4.0, -0.5)];
    let lines = clip_to_band(&points, 0.0, 1.0);
    assert_eq!(lines, vec![vec![(0.0, 0.0), (1.0, 0.5), (1.5, 1.0)], vec![(2.5, 1.0), (3.0, 0.5), (3.5, 0.0)]]);
    // Wholly outside: nothing; a flat line on the edge stays.
    assert!(clip_to_band(&[(0.0, 5.0), (1.0, 6.0)], 0.0, 1.0).is_empty());
    assert_eq!(clip_to_band(&[(0.0, 1.0), (1.0, 1.0)], 0.0, 1.0), vec![vec![(0.0, 1.0), (1.0, 1.0)]]);
}

/// A run's scalars as scripts/publish-results writes them: `iteration`, then one column per tag,
/// each value in full (the shortest form that reads back as the same f64), empty where not logged.
fn write_scalars_csv(curves: &Curves, path: &Path) {
    let tags: Vec<&String> = curves.series.keys().collect();
    let steps: std::collections::BTreeSet<u64> = curves.series.values().flatten().map(|p| p.0).collect();
    let mut text = std::iter::once("iteration".to_string())
        .chain(tags.iter().map(|t| t.to_string()))
        .collect::<Vec<_>>()
        .join(",");
    for step in steps {
        text += &format!("\n{step}");
        for tag in &tags {
            let cell = curves.series[*tag].iter().find(|p| p.0 == step).map(|p| p.1.to_string());
            text += &format!(",{}", cell.unwrap_or_default());
        }
    }
    std::fs::write(path, text + "\n").unwrap();
}

#[test]
fn a_published_scalars_csv_plots_exactly_as_its_run_directory() {
    let runs = tempfile::tempdir().unwrap();
    fake_run(&runs.path().join("gone"), "aaaa", Some(500), |s| 5.0 * (-(s as f32) / 300.0).exp() - 1.1);
    let from_dir = Curves::load("gone", &runs.path().join("gone")).unwrap();
    let csv = runs.path().join("gone-scalars.csv");
    write_scalars_csv(&from_dir, &csv);

    // Same name, same points to the last bit; eval/fid's column is empty from 500 on (the resumed
    // session logged none).
    let from_csv = Curves::from_csv(&csv).unwrap();
    assert_eq!(from_csv.name, "gone");
    assert_eq!(from_csv.series, from_dir.series);
    assert_eq!(
        (from_csv.series["eval/fid"].len(), from_csv.series["D loss (-1*D_real_is_fake - D_fake_is_fake)"].len()),
        (50, 100)
    );

    // The same picture, byte for byte, once the run directory is gone.
    let by_dir = runs.path().join("by-dir.png");
    assert!(plot(runs.path(), &["--run", "gone", "--out", by_dir.to_str().unwrap()]).status.success());
    std::fs::remove_dir_all(runs.path().join("gone")).unwrap();
    let by_csv = runs.path().join("by-csv.png");
    let out = plot(runs.path(), &["--csv", csv.to_str().unwrap(), "--out", by_csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&by_csv).unwrap(), std::fs::read(&by_dir).unwrap());
}

#[test]
fn a_published_run_reads_back_from_its_csv() {
    // Run P32-seed778: logged every 10 iterations to 490, judged at 0 and 250.
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/results/P32-seed778-scalars.csv");
    let run = Curves::from_csv(&csv).unwrap();
    assert_eq!(run.name, "P32-seed778");
    assert_eq!(run.series.len(), 9);
    let d_loss = &run.series["D loss (-1*D_real_is_fake - D_fake_is_fake)"];
    assert_eq!((d_loss.len(), d_loss[0].0, d_loss[49].0), (50, 0, 490));
    let fid: Vec<u64> = run.series["eval/fid"].iter().map(|p| p.0).collect();
    assert_eq!(fid, [0, 250]);
}

#[test]
fn a_scalars_csv_that_is_not_one_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("step,D_real_class\n0,1.5\n", "its header must be `iteration` and then the tags"),
        ("iteration,D_real_class\n0,1.5\n10,abc\n", "line 3: D_real_class \"abc\" is not a number"),
        ("iteration,D_real_class\nten,1.5\n", "line 2: iteration \"ten\" is not a number"),
        ("iteration,D_real_class\n0,1.5\n10,1.5,7\n", "is damaged"),
        ("iteration,D_real_class\n0,\n", "holds no logged scalars"),
    ];
    for (i, (text, expected)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("case{i}-scalars.csv"));
        std::fs::write(&path, text).unwrap();
        let error = format!("{:#}", Curves::from_csv(&path).err().unwrap());
        assert!(error.contains(expected) && error.contains(&format!("case{i}")), "{error}");
    }
    let out = plot(dir.path(), &["--csv", dir.path().join("nothere.csv").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: cannot read"));
}
