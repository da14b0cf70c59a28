//! What a run leaves for people to look at: TensorBoard event files, PNG images, progress.

pub mod progress;
pub mod tensorboard;

use anyhow::{ensure, Context, Result};
use std::path::Path;

/// Writes an 8-bit grayscale PNG atomically (temporary name, then rename).
pub fn write_gray_png(path: &Path, pixels: &[u8], height: usize, width: usize) -> Result<()> {
    ensure!(pixels.len() == height * width, "{} pixels for a {height}x{width} image", pixels.len());
    let tmp = path.with_extension("png.partial");
    let write = || -> Result<()> {
        let file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        let mut encoder = png::Encoder::new(file, width as u32, height as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.write_header()?.write_image_data(pixels)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    };
    write().with_context(|| format!("cannot write {}", path.display()))
}

/// Reads an 8-bit grayscale PNG back: (pixels, height, width).
pub fn read_gray_png(bytes: &[u8]) -> Result<(Vec<u8>, usize, usize)> {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info()?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf)?;
    let (h, w) = (info.height as usize, info.width as usize);
    let channels = info.line_size / w;
    // TensorBoard images are stored as RGB; take the first channel.
    Ok((buf.chunks(channels).take(h * w).map(|p| p[0]).collect(), h, w))
}
