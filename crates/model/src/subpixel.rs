//! "Nearest x2 upsample, then 5x5 same conv" as four 3x3 convolutions on the small map.
//!
//! Along one axis, output row `2i+a` of the 5x5 conv on the upsampled map reads upsampled rows
//! `2i+a-2 .. 2i+a+2`, which are small-map rows `i-1, i, i+1` with taps summed:
//!   a = 0: x[i-1]·(w0+w1) + x[i]·(w2+w3) + x[i+1]·w4
//!   a = 1: x[i-1]·w0      + x[i]·(w1+w2) + x[i+1]·(w3+w4)
//! Zero padding lines up too (upsampled rows -2,-1 and 2H,2H+1 are small-map rows -1 and H).
//! So for each output phase (a, b) the 5x5 kernel folds into a 3x3 one, `F_a W F_bᵀ`; one 3x3 conv
//! with 4·C_out channels computes all phases, and pixel_shuffle interleaves them. That is 36 instead
//! of 100 multiply-adds per output pixel and input channel. The fold runs inside the forward pass,
//! on the stored 5x5 weights, so gradients and checkpoints are exactly those of the plain model.

use tch::Tensor;

/// The literal form: nearest x2 upsampling followed by a 5x5 conv with padding 2.
pub fn plain_upsample_conv5x5(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Tensor {
    let (h, w) = (x.size()[2], x.size()[3]);
    x.upsample_nearest2d([2 * h, 2 * w], None, None).conv2d(weight, bias, [1, 1], [2, 2], [1, 1], 1)
}

/// `F[a][p][k]`: how 5x5 tap `k` contributes to 3x3 tap `p` for output phase `a`.
fn fold_matrix(like: &Tensor) -> Tensor {
    #[rustfmt::skip]
    let f: [f32; 30] = [
        1., 1., 0., 0., 0.,   0., 0., 1., 1., 0.,   0., 0., 0., 0., 1.,
        1., 0., 0., 0., 0.,   0., 1., 1., 0., 0.,   0., 0., 0., 1., 1.,
    ];
    Tensor::from_slice(&f).view([2, 3, 5]).to_kind(like.kind()).to_device(like.device())
}

/// The 3x3 kernels of the four phases, `[C_out*4, C_in, 3, 3]` in pixel_shuffle's channel order
/// (`c*4 + a*2 + b`), from a `[C_out, C_in, 5, 5]` kernel.
pub fn folded_kernel(weight: &Tensor) -> Tensor {
    let (c_out, c_in) = (weight.size()[0], weight.size()[1]);
    let f = fold_matrix(weight);
    Tensor::einsum("apk,bql,oikl->oabipq", &[&f, &f, weight], None::<&[i64]>).reshape([c_out * 4, c_in, 3, 3])
}

/// Same function as `plain_upsample_conv5x5`, computed on the small map (in `x`'s precision; the
/// kernel is folded in its own and then cast).
pub fn upsample_conv5x5(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Tensor {
    let bias = bias.map(|b| b.repeat_interleave_self_int(4, 0, None));
    let kernel = crate::cast(&folded_kernel(weight), x.kind());
    x.conv2d(&kernel, bias.as_ref(), [1, 1], [1, 1], [1, 1], 1).pixel_shuffle(2)
}
