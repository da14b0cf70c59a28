//! What a run leaves for people to look at: TensorBoard event files, PNG images, progress.

pub mod progress;
pub mod tensorboard;

pub use png::ColorType;

use anyhow::{ensure, Result};
use ndarray::{Array2, ArrayView2};
use std::path::Path;

/// Writes an 8-bit grayscale image `[height, width]` as PNG, atomically.
pub fn write_gray_png(path: &Path, image: &ArrayView2<u8>) -> Result<()> {
    let (height, width) = image.dim();
    write_png(
        path,
        image.as_standard_layout().as_slice().expect("contiguous"),
        height,
        width,
        png::ColorType::Grayscale,
    )
}

/// Writes an 8-bit PNG (`Grayscale` or `Rgb` interleaved) atomically: a temporary name, renamed
/// when complete, and removed if the write fails.
pub fn write_png(path: &Path, pixels: &[u8], height: usize, width: usize, color: png::ColorType) -> Result<()> {
    let channels = color.samples();
    ensure!(
        pixels.len() == height * width * channels,
        "{} values for a {height}x{width}x{channels} image",
        pixels.len()
    );
    rundir::atomic::write_with(path, |out| {
        let mut encoder = png::Encoder::new(out, width as u32, height as u32);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        // Plots and grids are committed under docs/results: the smallest encoding is worth the
        // milliseconds.
        encoder.set_compression(png::Compression::Best);
        encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        encoder.write_header()?.write_image_data(pixels)?;
        Ok(())
    })
}

/// Reads an 8-bit PNG back as grayscale `[height, width]` (the first channel of RGB, as
/// TensorBoard stores images).
pub fn read_gray_png(bytes: &[u8]) -> Result<Array2<u8>> {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info()?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf)?;
    let (h, w) = (info.height as usize, info.width as usize);
    let channels = info.line_size / w;
    let gray: Vec<u8> = buf.chunks(channels).take(h * w).map(|p| p[0]).collect();
    Ok(Array2::from_shape_vec((h, w), gray)?)
}
