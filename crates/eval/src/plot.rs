//! Training curves as one picture: the seven logged losses and the judge's scores of one run or
//! several overlaid, each as TensorBoard shows it (raw values faint, a smoothed line over them).

use anyhow::{anyhow, ensure, Context, Result};
use logging::tensorboard::{read_dir, Record};
use plotters::prelude::*;
use rundir::tags;
use std::collections::BTreeMap;
use std::path::Path;

pub const WIDTH: u32 = 1500;
pub const HEIGHT: u32 = 1150;

/// The panels, three to a row: the critic's Wasserstein estimate and the judge's scores first,
/// then the is_fake and the class losses of the three steps.
pub const PANELS: [&str; 9] = [
    tags::D_LOSS,
    tags::FID,
    tags::CONDITIONAL_ACCURACY,
    tags::LOSS_TAGS[0],
    tags::LOSS_TAGS[2],
    tags::LOSS_TAGS[4],
    tags::LOSS_TAGS[1],
    tags::LOSS_TAGS[3],
    tags::LOSS_TAGS[5],
];

/// matplotlib's tab10: distinct, and familiar to researchers.
const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// One run's logged scalars by tag, as (step, value) in step order.
pub struct Curves {
    pub name: String,
    pub series: BTreeMap<String, Vec<(u64, f64)>>,
    /// SHA-256 of the judge that made the run's eval/* scores, from its config.json.
    pub judge: Option<String>,
}

impl Curves {
    /// Reads a run directory's event files (with TensorBoard's rule for resumed runs) and the
    /// judge identity its record carries.
    pub fn load(name: &str, run_dir: &Path) -> Result<Curves> {
        ensure!(run_dir.is_dir(), "there is no run directory {}", run_dir.display());
        let mut series: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
        for record in read_dir(run_dir)? {
            if let Record::Scalar { tag, step, value } = record {
                series.entry(tag).or_default().push((step, value as f64));
            }
        }
        ensure!(!series.is_empty(), "{} holds no logged scalars (no event files)", run_dir.display());
        Ok(Curves::in_step_order(name.to_string(), series, judge_of(run_dir)))
    }

    /// Reads a scalars CSV as scripts/publish-results writes it (`RUN-scalars.csv`: `iteration`,
    /// then one column per tag; an empty cell: not logged at that step), named RUN, so that a
    /// published run can be drawn after its run directory is gone. Its values are the event
    /// files' f32 values written in full, so they plot exactly as the run directory did.
    pub fn from_csv(path: &Path) -> Result<Curves> {
        let file = path.display();
        let mut reader = csv::Reader::from_path(path).with_context(|| format!("cannot read {file}"))?;
        let header = reader.headers().with_context(|| format!("cannot read {file}"))?.clone();
        ensure!(
            header.get(0) == Some("iteration") && header.len() > 1,
            "{file} is not a scalars CSV: its header must be `iteration` and then the tags, as \
             scripts/publish-results writes docs/results/RUN-scalars.csv"
        );
        let mut series: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
        for row in reader.records() {
            let row = row.with_context(|| format!("{file} is damaged"))?;
            let line = row.position().map_or(0, |p| p.line());
            let bad = |what: &str, cell: &str| anyhow!("{file} line {line}: {what} {cell:?} is not a number");
            let step: u64 = row[0].parse().map_err(|_| bad("iteration", &row[0]))?;
            for (tag, cell) in header.iter().zip(row.iter()).skip(1).filter(|(_, cell)| !cell.is_empty()) {
                let value: f64 = cell.parse().map_err(|_| bad(tag, cell))?;
                series.entry(tag.to_string()).or_default().push((step, value));
            }
        }
        ensure!(!series.is_empty(), "{file} holds no logged scalars");
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let name = stem.strip_suffix("-scalars").unwrap_or(&stem).to_string();
        Ok(Curves::in_step_order(name, series, None))
    }

    fn in_step_order(name: String, mut series: BTreeMap<String, Vec<(u64, f64)>>, judge: Option<String>) -> Curves {
        for points in series.values_mut() {
            points.sort_by_key(|p| p.0);
        }
        Curves { name, series, judge }
    }
}

/// The judge SHA-256 of a run's latest scoring session, if any.
fn judge_of(run_dir: &Path) -> Option<String> {
    let record: rundir::record::RunRecord<serde::de::IgnoredAny> = rundir::record::read(run_dir).ok()?;
    record.judge().map(str::to_string)
}

/// TensorBoard's smoothing: an exponential moving average with weight `weight`, debiased so the
/// first points are not pulled toward 0.
pub fn smooth(values: &[f64], weight: f64) -> Vec<f64> {
    let mut last = 0.0;
    let mut count = 0;
    values
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                return v;
            }
            last = last * weight + (1.0 - weight) * v;
            count += 1;
            last / (1.0 - weight.powi(count))
        })
        .collect()
}

/// The value range a panel shows: the 1st to 99th percentile of all its values, with a margin,
/// so that the first boost iterations (critic outputs in the hundreds) do not flatten the rest.
fn robust_range(values: &[f64]) -> (f64, f64) {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (0.0, 1.0);
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    let (lo, hi) = if v.len() < 20 { (v[0], v[v.len() - 1]) } else { (at(0.01), at(0.99)) };
    // A flat series (one evaluation so far) gets a window of ±5% of its value.
    let pad = if hi > lo { (hi - lo) * 0.08 } else { (0.05 * hi.abs()).max(1e-6) };
    (lo - pad, hi + pad)
}

/// The parts of a polyline inside the band lo <= y <= hi, cut where it crosses the band's edges,
/// so that values off the chart leave it as in TensorBoard instead of running along its border.
pub fn clip_to_band(points: &[(f64, f64)], lo: f64, hi: f64) -> Vec<Vec<(f64, f64)>> {
    let mut lines: Vec<Vec<(f64, f64)>> = Vec::new();
    let at = |a: (f64, f64), b: (f64, f64), t: f64| (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
    for pair in points.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        // The segment a + t (b - a), t in [0, 1], restricted to lo <= y <= hi.
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        let dy = b.1 - a.1;
        if dy == 0.0 {
            if !(lo..=hi).contains(&a.1) {
                continue;
            }
        } else {
            let (ta, tb) = ((lo - a.1) / dy, (hi - a.1) / dy);
            t0 = t0.max(ta.min(tb));
            t1 = t1.min(ta.max(tb));
            if t0 > t1 {
                continue;
            }
        }
        let (p, q) = (at(a, b, t0), at(a, b, t1));
        match lines.last_mut() {
            Some(line) if t0 == 0.0 && line.last() == Some(&a) => line.push(q),
            _ => lines.push(vec![p, q]),
        }
    }
    lines
}

/// Registers the embedded font once (no system fonts are needed).
pub(crate) fn register_font() -> Result<()> {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    ensure!(ok, "cannot load the embedded DejaVu Sans font");
    Ok(())
}

/// Draws the curves of `runs` (overlaid, one color each) into an RGB image of WIDTH x HEIGHT.
pub fn render(runs: &[Curves], smoothing: f64) -> Result<Vec<u8>> {
    ensure!(!runs.is_empty(), "no runs to plot");
    register_font()?;
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let (legend, grid) = root.split_vertically(60);
        draw_legend(&legend, runs, smoothing)?;
        for (area, tag) in grid.split_evenly((3, 3)).iter().zip(PANELS) {
            // A judge score is already an average over its samples, and logged rarely: smoothing
            // would make it lag by several evaluations, so its points are drawn as they are.
            let smoothing = if tag.starts_with("eval/") { 0.0 } else { smoothing };
            draw_panel(area, tag, runs, smoothing)?;
        }
        root.present().map_err(draw_error)?;
    }
    Ok(rgb)
}

pub(crate) fn draw_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing the plot failed: {e:?}")
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    runs: &[Curves],
    smoothing: f64,
) -> Result<()> {
    let mut x = 20;
    for (k, run) in runs.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        area.draw(&Rectangle::new([(x, 22), (x + 28, 26)], color.filled())).map_err(draw_error)?;
        area.draw(&Text::new(run.name.clone(), (x + 36, 14), ("sans-serif", 20).into_font())).map_err(draw_error)?;
        x += 60 + 11 * run.name.len() as i32;
    }
    let note = format!(
        "faint: raw values; line: smoothed ({smoothing}, as TensorBoard; eval/* unsmoothed); y: 1st-99th percentile"
    );
    area.draw(&Text::new(note, (20, 40), ("sans-serif", 15).into_font().color(&RGBColor(90, 90, 90))))
        .map_err(draw_error)?;
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    tag: &str,
    runs: &[Curves],
    smoothing: f64,
) -> Result<()> {
    let present: Vec<(usize, &Vec<(u64, f64)>)> =
        runs.iter().enumerate().filter_map(|(k, r)| r.series.get(tag).map(|s| (k, s))).collect();
    let judges: std::collections::BTreeSet<&str> =
        runs.iter().filter(|r| r.series.contains_key(tag)).filter_map(|r| r.judge.as_deref()).collect();
    let mut title = tag.to_string();
    if tag.starts_with("eval/") && judges.len() > 1 {
        title.push_str("  [DIFFERENT JUDGES: not comparable]");
    }
    let caption_style = ("sans-serif", 17).into_font();
    if present.is_empty() {
        area.titled(&title, caption_style).map_err(draw_error)?;
        area.draw(&Text::new("not logged", (150, 150), ("sans-serif", 16).into_font().color(&RGBColor(150, 150, 150))))
            .map_err(draw_error)?;
        return Ok(());
    }
    let all: Vec<f64> = present.iter().flat_map(|(_, s)| s.iter().map(|p| p.1)).collect();
    let (lo, hi) = robust_range(&all);
    let last_step = present.iter().filter_map(|(_, s)| s.last().map(|p| p.0)).max().unwrap_or(0).max(10);
    let decimals = (2.0 - (hi - lo).log10().floor()).clamp(0.0, 8.0) as usize;
    let mut chart = ChartBuilder::on(area)
        .caption(title, caption_style)
        .margin(8)
        .margin_right(24) // room for the last step's label, which sits on the right edge
        .x_label_area_size(28)
        .y_label_area_size(58)
        .build_cartesian_2d(0f64..last_step as f64, lo..hi)
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .light_line_style(RGBColor(235, 235, 235))
        .label_style(("sans-serif", 13))
        .x_labels(6)
        .y_labels(6)
        .y_label_formatter(&|v| format_value(*v, decimals))
        .x_label_formatter(&|v| format!("{}", *v as u64))
        .draw()
        .map_err(draw_error)?;
    for (k, points) in present {
        let color = COLORS[k % COLORS.len()];
        let raw: Vec<(f64, f64)> = points.iter().map(|&(s, v)| (s as f64, v)).collect();
        let values: Vec<f64> = points.iter().map(|p| p.1).collect();
        let smoothed: Vec<(f64, f64)> =
            points.iter().zip(smooth(&values, smoothing)).map(|(&(s, _), v)| (s as f64, v)).collect();
        if raw.len() < 3 || smoothing == 0.0 {
            // Too few points for a line (a run that just started), or judge scores: mark them.
            let shown = raw.iter().filter(|p| (lo..=hi).contains(&p.1));
            chart.draw_series(shown.map(|&p| Circle::new(p, 4, color.filled()))).map_err(draw_error)?;
        }
        for line in clip_to_band(&raw, lo, hi) {
            chart.draw_series(LineSeries::new(line, color.mix(0.22).stroke_width(1))).map_err(draw_error)?;
        }
        for line in clip_to_band(&smoothed, lo, hi) {
            chart.draw_series(LineSeries::new(line, color.stroke_width(2))).map_err(draw_error)?;
        }
    }
    Ok(())
}

/// A tick label with as many decimals as the panel's span needs (large values in e-notation).
fn format_value(v: f64, decimals: usize) -> String {
    if v.abs() >= 1e5 {
        format!("{v:.1e}")
    } else {
        format!("{v:.decimals$}")
    }
}

/// Root-mean-square difference of two curves over the steps both logged (None when they share
/// none): how far apart two runs are, e.g. bf16 and fp32 against two fp32 seeds.
pub fn rms_difference(a: &[(u64, f64)], b: &[(u64, f64)]) -> Option<f64> {
    let b: BTreeMap<u64, f64> = b.iter().copied().collect();
    let diffs: Vec<f64> = a.iter().filter_map(|(step, va)| b.get(step).map(|vb| (va - vb).powi(2))).collect();
    (!diffs.is_empty()).then(|| (diffs.iter().sum::<f64>() / diffs.len() as f64).sqrt())
}

/// A table of `rms_difference` of every run from the first one, per panel's tag.
pub fn difference_table(runs: &[Curves]) -> String {
    let Some((first, others)) = runs.split_first() else { return String::new() };
    let tags: Vec<&str> = PANELS.iter().copied().filter(|t| first.series.contains_key(*t)).collect();
    let short = |t: &str| t.split(' ').next().unwrap_or(t).to_string();
    let mut out = format!("RMS difference from {} over the steps both logged\n{:<28}", first.name, "run");
    for t in &tags {
        out += &format!(" {:>16}", short(t));
    }
    for run in others {
        out += &format!("\n{:<28}", run.name);
        for t in &tags {
            let d = run.series.get(*t).and_then(|s| rms_difference(s, &first.series[*t]));
            out += &format!(" {:>16}", d.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into()));
        }
    }
    out
}
