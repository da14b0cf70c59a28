//! Sample grids side by side: a row per run, a column per iteration, labelled, so that runs can be
//! held against each other iteration by iteration and one run's progress read at a glance.

use crate::plot::{draw_error, register_font};
use anyhow::{ensure, Context, Result};
use ndarray::Array2;
use plotters::prelude::*;
use std::path::Path;

/// Pixels between grids and around the sheet.
const GAP: usize = 10;
const FONT_SIZE: u32 = 18;
/// Height of the column labels' band.
const HEADER: usize = 28;
/// A grid of 10x10 MNIST digits is 18-32 KB; anything near this is not one.
const MAX_GRID_BYTES: u64 = 16 << 20;

/// The sample grid a run logged after iteration `it`, or `None` when it has none.
pub fn read_grid(run_dir: &Path, it: u64) -> Result<Option<Array2<u8>>> {
    let path = rundir::sample_grid_file(run_dir, it);
    if std::fs::symlink_metadata(&path).is_err() {
        return Ok(None);
    }
    let bytes = rundir::record::read_small_bytes(&path, MAX_GRID_BYTES)?;
    let grid = logging::read_gray_png(&bytes)
        .with_context(|| format!("{} is not a readable PNG; remove it or restore it from a copy", path.display()))?;
    Ok(Some(grid))
}

/// Lays out `grids[row][column]`, all of one size, with `row_labels` on their left and
/// `column_labels` above, in black on white: a grayscale picture.
pub fn sheet(row_labels: &[String], column_labels: &[String], grids: &[Vec<Array2<u8>>]) -> Result<Array2<u8>> {
    ensure!(!grids.is_empty() && !column_labels.is_empty(), "no grids to lay out");
    ensure!(grids.len() == row_labels.len() && grids.iter().all(|row| row.len() == column_labels.len()));
    let sizes: std::collections::BTreeSet<_> = grids.iter().flatten().map(|g| g.dim()).collect();
    ensure!(
        sizes.len() == 1,
        "the grids differ in size ({sizes:?}: height, width); each must be a sample grid a run logged"
    );
    let (h, w) = grids[0][0].dim();
    register_font()?;
    let font = ("sans-serif", FONT_SIZE).into_font();
    let label_width = row_labels.iter().map(|l| text_width(l, &font)).max().unwrap_or(0) as usize + GAP;
    let (left, top) = (GAP + label_width, HEADER);
    let width = left + column_labels.len() * (w + GAP);
    let height = top + grids.len() * (h + GAP);

    let mut rgb = vec![255u8; width * height * 3];
    for (r, row) in grids.iter().enumerate() {
        for (c, grid) in row.iter().enumerate() {
            let (y0, x0) = (top + r * (h + GAP), left + c * (w + GAP));
            for ((y, x), &v) in grid.indexed_iter() {
                let at = ((y0 + y) * width + x0 + x) * 3;
                rgb[at..at + 3].fill(v);
            }
        }
    }
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (width as u32, height as u32)).into_drawing_area();
        for (c, label) in column_labels.iter().enumerate() {
            let x = (left + c * (w + GAP)) as i32;
            area.draw(&Text::new(label.as_str(), (x, 4), font.clone())).map_err(draw_error)?;
        }
        for (r, label) in row_labels.iter().enumerate() {
            let y = (top + r * (h + GAP) + h / 2) as i32 - FONT_SIZE as i32 / 2;
            area.draw(&Text::new(label.as_str(), (GAP as i32, y), font.clone())).map_err(draw_error)?;
        }
        area.present().map_err(draw_error)?;
    }
    // Plotters draws in RGB; black text on gray grids keeps the three channels equal.
    Ok(Array2::from_shape_vec((height, width), rgb.iter().step_by(3).copied().collect())?)
}

fn text_width(text: &str, font: &FontDesc) -> u32 {
    font.box_size(text).map_or(FONT_SIZE * text.len() as u32, |(w, _)| w)
}
