//! IDX files (the MNIST layout): big-endian u32 magic, u32 dimensions, then u8 data, read into
//! shape-checked `ndarray` arrays (usable without libtorch; `Dataset` makes tensors of them).
//! A path ending in `.gz` must be gzip; anything else is read raw.

use anyhow::{bail, Context, Result};
use flate2::read::GzDecoder;
use ndarray::{Array1, Array3};
use std::io::Read;
use std::path::Path;

pub const IMAGES_MAGIC: u32 = 2051;
pub const LABELS_MAGIC: u32 = 2049;

/// Images `[count, rows, cols]`, row-major, one image after another.
pub type Images = Array3<u8>;
/// Labels `[count]`, each in 0..=9.
pub type Labels = Array1<u8>;

/// The most bytes an IDX file of this project holds (MNIST's training images are 47 MB).
pub const MAX_BYTES: u64 = 64 << 20;

/// The file's bytes, gunzipped when its name ends in `.gz`; a file (or gzip stream) of more than
/// `limit` bytes is refused without reading past the limit.
pub fn read_bytes(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let gz = path.extension().is_some_and(|e| e == "gz");
    let mut reader: Box<dyn Read> = if gz { Box::new(GzDecoder::new(file)) } else { Box::new(file) };
    let mut out = Vec::new();
    reader.by_ref().take(limit + 1).read_to_end(&mut out).with_context(|| match gz {
        true => format!("{}: not a valid gzip file despite its .gz name", path.display()),
        false => format!("cannot read {}", path.display()),
    })?;
    if out.len() as u64 > limit {
        bail!(
            "{} {} more than {limit} bytes: more than the file can be",
            path.display(),
            if gz { "inflates to" } else { "holds" }
        );
    }
    Ok(out)
}

pub fn read_images(path: &Path) -> Result<Images> {
    parse_images(&read_bytes(path, MAX_BYTES)?)
        .with_context(|| format!("{}: not a valid IDX image file", path.display()))
}

pub fn read_labels(path: &Path) -> Result<Labels> {
    parse_labels(&read_bytes(path, MAX_BYTES)?)
        .with_context(|| format!("{}: not a valid IDX label file", path.display()))
}

pub fn parse_images(bytes: &[u8]) -> Result<Images> {
    let dims = header(bytes, IMAGES_MAGIC, 3)?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows == 0 || cols == 0 {
        bail!("image size {rows}x{cols} is empty");
    }
    let pixels = body(bytes, 16, count * rows * cols)?;
    Ok(Images::from_shape_vec((count, rows, cols), pixels.to_vec())?)
}

pub fn parse_labels(bytes: &[u8]) -> Result<Labels> {
    let count = header(bytes, LABELS_MAGIC, 1)?[0];
    let labels = body(bytes, 8, count)?;
    if let Some(i) = labels.iter().position(|&l| l > 9) {
        bail!("label {} at index {i} is outside 0..=9", labels[i]);
    }
    Ok(Labels::from(labels.to_vec()))
}

/// Checks the magic number and rank, returns the dimensions.
fn header(bytes: &[u8], magic: u32, rank: usize) -> Result<Vec<usize>> {
    let header_len = 4 + 4 * rank;
    let word = |i: usize| u32::from_be_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap());
    if bytes.len() < 4 {
        bail!("file is {} bytes, too short for a magic number", bytes.len());
    }
    let found = word(0);
    if found != magic {
        let (ty, found_rank) = (found >> 8, found & 0xff);
        if ty == 0x08 && found_rank as usize != rank {
            bail!("u8 data of rank {found_rank}, expected rank {rank} (magic {found}, expected {magic})");
        }
        bail!("bad magic number {found:#010x}, expected {magic:#010x} ({magic})");
    }
    if bytes.len() < header_len {
        bail!("file is {} bytes, shorter than its {header_len}-byte header", bytes.len());
    }
    let dims: Vec<usize> = (1..=rank).map(|i| word(i) as usize).collect();
    if dims[0] == 0 {
        bail!("declares 0 items");
    }
    Ok(dims)
}

/// The `expected` data bytes after the header, which must end the file exactly.
fn body(bytes: &[u8], header_len: usize, expected: usize) -> Result<&[u8]> {
    let found = bytes.len() - header_len;
    if found < expected {
        bail!("truncated: header declares {expected} data bytes, file holds {found}");
    }
    if found > expected {
        bail!("{} trailing bytes after the {expected} data bytes the header declares", found - expected);
    }
    Ok(&bytes[header_len..])
}

/// Images and their labels, checked to agree in count.
pub fn read_pair(images: &Path, labels: &Path) -> Result<(Images, Labels)> {
    let (imgs, labs) = (read_images(images)?, read_labels(labels)?);
    let count = imgs.shape()[0];
    if count != labs.len() {
        bail!("{} holds {count} images but {} holds {} labels", images.display(), labels.display(), labs.len());
    }
    Ok((imgs, labs))
}

/// Encodes IDX bytes (used to rebuild the canonical files from other carriers, and by tests).
pub fn encode(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&magic.to_be_bytes());
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}
