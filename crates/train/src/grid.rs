//! Image grids: generator outputs in (-1, 1) tiled into one 8-bit grayscale picture.

use tch::{Kind, Tensor};

/// `images [rows*cols, 1, h, w]` (row-major order) -> `(rows*h) x (cols*w)` bytes,
/// mapping [-1, 1] to [0, 255].
pub fn tile(images: &Tensor, rows: i64, cols: i64) -> (Vec<u8>, usize, usize) {
    let (h, w) = (images.size()[2], images.size()[3]);
    let bytes = ((images.detach().to_device(tch::Device::Cpu) + 1.0) * 127.5).round().clamp(0.0, 255.0);
    let tiled = bytes.view([rows, cols, h, w]).permute([0, 2, 1, 3]).contiguous().to_kind(Kind::Uint8);
    (Vec::<u8>::try_from(tiled.flatten(0, -1)).unwrap(), (rows * h) as usize, (cols * w) as usize)
}
