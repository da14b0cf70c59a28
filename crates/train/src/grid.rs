//! Image grids: generator outputs in (-1, 1) tiled into one 8-bit grayscale picture.

use ndarray::{s, Array2, Array3};
use tch::{Kind, Tensor};

/// `images [rows*cols, 1, h, w]` (row-major order) -> a `[rows*h, cols*w]` grid, mapping [-1, 1]
/// to [0, 255] (rounding half to even, as libtorch's round).
pub fn tile(images: &Tensor, rows: i64, cols: i64) -> Array2<u8> {
    let (n, h, w) = (images.size()[0] as usize, images.size()[2] as usize, images.size()[3] as usize);
    let values = images.detach().to_device(tch::Device::Cpu).to_kind(Kind::Float).contiguous().view([-1]);
    let values = Vec::<f32>::try_from(values).expect("a float tensor converts to Vec<f32>");
    let images = Array3::from_shape_vec((n, h, w), values).expect("n images of h x w");
    let (rows, cols) = (rows as usize, cols as usize);
    let mut grid = Array2::<u8>::zeros((rows * h, cols * w));
    for (k, image) in images.outer_iter().enumerate().take(rows * cols) {
        let (r, c) = (k / cols, k % cols);
        let byte = |x: &f32| ((x + 1.0) * 127.5).round_ties_even().clamp(0.0, 255.0) as u8;
        grid.slice_mut(s![r * h..(r + 1) * h, c * w..(c + 1) * w]).assign(&image.map(byte));
    }
    grid
}
