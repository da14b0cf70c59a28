//! The article's critic D and generator G (docs/SPEC.md "Critic D", "Generator G"), on tch.
//!
//! Both are written top to bottom in Keras's layer order. Parameters live under stable names
//! (`critic.conv_1.weight`, `generator.dense_2.bias`, ...) that checkpoints carry.

/// The word each variant of an enum has in flags and records (`NAMES`, in declaration order),
/// with `FromStr` and `Display` by it, so that these enums need no command-line crate.
macro_rules! named_variants {
    ($ty:ident, $what:literal, $($variant:ident => $name:literal),+) => {
        impl $ty {
            pub const NAMES: &'static [&'static str] = &[$($name),+];
        }

        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<$ty, String> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    _ => Err(format!("'{s}' is not {} ({})", $what, $ty::NAMES.join(", "))),
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(match self {
                    $($ty::$variant => $name),+
                })
            }
        }
    };
}

pub mod masks;
pub mod precision;
pub mod subpixel;
pub mod weights;

use anyhow::{Context, Result};
pub use precision::Precision;
use std::ffi::c_char;
use std::path::Path;
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

/// The article's latent size (`--z-size` may change it).
pub const Z_SIZE: i64 = 100;
pub const CLASSES: i64 = 10;
/// Keras's LeakyReLU default, which the article uses (tch's default is 0.01).
pub const LEAKY_SLOPE: f64 = 0.3;
pub const DROPOUT: f64 = 0.3;
/// Images per call of `Generator::generate`.
const GENERATE_CHUNK: i64 = 100;
const CONV_INIT: nn::Init = nn::Init::Randn { mean: 0.0, stdev: 0.02 };

extern "C" {
    /// `src/leaky_relu.cpp`: libtorch's `leaky_relu(x, slope)`, a new tensor or null and a message.
    fn model_leaky_relu(
        x: *const torch_sys::C_tensor,
        slope: f64,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut torch_sys::C_tensor;
}

/// LeakyReLU with the article's slope (gradient at 0: the slope, as TensorFlow's). tch binds
/// libtorch's leaky_relu only with its 0.01 default, so this calls it through a few lines of C++.
/// PReLU with a constant weight, the same function in tch's bindings, computed its weight's
/// gradient in a scalar loop on every backward pass: an eighth of the generator step's time.
pub fn leaky_relu(x: &Tensor) -> Tensor {
    let mut error = [0 as c_char; 512];
    // SAFETY: `x` is a live tensor; the function returns a new tensor that we own, or null.
    let y = unsafe { model_leaky_relu(x.as_ptr(), LEAKY_SLOPE, error.as_mut_ptr(), error.len()) };
    if y.is_null() {
        // SAFETY: on null the function wrote a 0-terminated message into `error`.
        let message = unsafe { std::ffi::CStr::from_ptr(error.as_ptr()) };
        panic!("leaky_relu on a {:?} tensor: {}", x.kind(), message.to_string_lossy());
    }
    // SAFETY: `y` is a new heap tensor handle, owned from here on (tch frees it on drop).
    unsafe { Tensor::from_ptr(y) }
}

/// Inverted dropout: zero each element with probability `p`, scale the rest by `1/(1-p)`, in
/// training only. On the CPU the masks come from `masks` (the same Bernoulli draws, several times
/// faster than libtorch's serial generator, the same for fp32 and bf16 activations of one seed);
/// on CUDA libtorch's fused kernel is the faster one.
pub fn dropout(x: &Tensor, p: f64, train: bool) -> Tensor {
    if !train {
        return x.shallow_clone();
    }
    if x.device().is_cuda() {
        return x.dropout(p, true);
    }
    x * masks::keep_scaled(x, p)
}

/// The same NCHW tensor laid out channels-last (NHWC in memory). tch has no memory-format API,
/// but libtorch reads the layout from the strides, and oneDNN's convolutions run faster on it.
/// The view through one flat dimension gives every dimension its NHWC stride: `contiguous()`
/// leaves a size-1 dimension's stride as it was, and a 1-channel image (the critic's input) would
/// then read as NCHW, and so would every layer after it.
pub fn channels_last(x: &Tensor) -> Tensor {
    let nhwc = x.permute([0, 2, 3, 1]).contiguous();
    nhwc.flatten(0, -1).view(nhwc.size().as_slice()).permute([0, 3, 1, 2])
}

/// Keras's glorot_uniform for a `[fan_a, fan_b]` matrix (symmetric in the two fans).
fn glorot(fan_a: i64, fan_b: i64) -> nn::Init {
    let limit = (6.0 / (fan_a + fan_b) as f64).sqrt();
    nn::Init::Uniform { lo: -limit, up: limit }
}

fn conv(p: nn::Path, c_in: i64, c_out: i64, k: i64, padding: i64) -> nn::Conv2D {
    let cfg = nn::ConvConfig { padding, ws_init: CONV_INIT, bs_init: nn::Init::Const(0.0), ..Default::default() };
    nn::conv2d(p, c_in, c_out, k, cfg)
}

fn dense(p: nn::Path, n_in: i64, n_out: i64) -> nn::Linear {
    let cfg = nn::LinearConfig { ws_init: glorot(n_in, n_out), bs_init: Some(nn::Init::Const(0.0)), bias: true };
    nn::linear(p, n_in, n_out, cfg)
}

/// Called after each named layer of a forward pass with its output (for `summary`).
pub type Trace<'a> = &'a mut dyn FnMut(&str, &Tensor);

/// A layer's convolution (stride 1, zero `padding`) or product in the precision of its input: the
/// fp32 weights are cast (a differentiable cast, so gradients reach them in fp32).
fn conv_in(x: &Tensor, c: &nn::Conv2D, padding: i64) -> Tensor {
    let k = x.kind();
    x.conv2d(&cast(&c.ws, k), c.bs.as_ref().map(|b| cast(b, k)).as_ref(), [1, 1], [padding, padding], [1, 1], 1)
}

fn linear_in(x: &Tensor, l: &nn::Linear) -> Tensor {
    let k = x.kind();
    x.linear(&cast(&l.ws, k), l.bs.as_ref().map(|b| cast(b, k)).as_ref())
}

/// `t` as `kind`, without a copy when it already is.
pub fn cast(t: &Tensor, kind: Kind) -> Tensor {
    if t.kind() == kind {
        t.shallow_clone()
    } else {
        t.to_kind(kind)
    }
}

fn conv_parameters(c_in: i64, c_out: i64, k: i64) -> i64 {
    c_in * c_out * k * k + c_out
}

fn dense_parameters(n_in: i64, n_out: i64) -> i64 {
    n_in * n_out + n_out
}

pub struct Critic {
    conv_1: nn::Conv2D,
    conv_2: nn::Conv2D,
    conv_3: nn::Conv2D,
    conv_4: nn::Conv2D,
    output_is_fake: nn::Linear,
    output_class: nn::Linear,
    pub precision: Precision,
}

impl Critic {
    /// Registers the critic's parameters under `critic.*` in `vs`.
    pub fn new(vs: &nn::VarStore, precision: Precision) -> Critic {
        let p = vs.root() / "critic";
        Critic {
            conv_1: conv(&p / "conv_1", 1, 32, 3, 1),
            conv_2: conv(&p / "conv_2", 32, 64, 3, 1),
            conv_3: conv(&p / "conv_3", 64, 128, 3, 1),
            conv_4: conv(&p / "conv_4", 128, 256, 3, 1),
            output_is_fake: dense(&p / "output_is_fake", 256 * 7 * 7, 1),
            output_class: dense(&p / "output_class", 256 * 7 * 7, CLASSES),
            precision,
        }
    }

    /// Parameters of the critic, counted from the layer shapes without building it.
    pub fn parameter_count() -> i64 {
        conv_parameters(1, 32, 3)
            + conv_parameters(32, 64, 3)
            + conv_parameters(64, 128, 3)
            + conv_parameters(128, 256, 3)
            + dense_parameters(256 * 7 * 7, 1)
            + dense_parameters(256 * 7 * 7, CLASSES)
    }

    /// `x [N,1,28,28]` -> (`is_fake [N]`, no activation; class logits `[N,10]`), both fp32.
    /// Dropout is active only when `train`.
    pub fn forward(&self, x: &Tensor, train: bool) -> (Tensor, Tensor) {
        self.forward_traced(x, train, &mut |_, _| {})
    }

    pub fn forward_traced(&self, x: &Tensor, train: bool, trace: Trace) -> (Tensor, Tensor) {
        let mut t = |name: &str, x: Tensor| {
            trace(name, &x);
            x
        };
        let x = t("conv_1", conv_in(&channels_last(&cast(x, self.precision.kind())), &self.conv_1, 1));
        let x = t("leaky_relu_1", leaky_relu(&x));
        let x = t("max_pool_1", x.max_pool2d_default(2));
        let x = t("dropout_1", dropout(&x, DROPOUT, train));
        let x = t("conv_2", conv_in(&x, &self.conv_2, 1));
        let x = t("leaky_relu_2", leaky_relu(&x)); // the article's MaxPool(1) here is the identity
        let x = t("dropout_2", dropout(&x, DROPOUT, train));
        let x = t("conv_3", conv_in(&x, &self.conv_3, 1));
        let x = t("max_pool_3", x.max_pool2d_default(2));
        let x = t("leaky_relu_3", leaky_relu(&x));
        let x = t("dropout_3", dropout(&x, DROPOUT, train));
        let x = t("conv_4", conv_in(&x, &self.conv_4, 1));
        let x = t("leaky_relu_4", leaky_relu(&x));
        let x = t("dropout_4", dropout(&x, DROPOUT, train));
        let x = t("flatten", x.flatten(1, -1));
        let is_fake = t("output_is_fake", linear_in(&x, &self.output_is_fake).to_kind(Kind::Float)).squeeze_dim(1);
        let class = t("output_class", linear_in(&x, &self.output_class).to_kind(Kind::Float));
        (is_fake, class)
    }
}

/// How G computes "upsample x2 (nearest) then 5x5 same conv": the literal form, or the
/// equivalent sub-pixel form (see `subpixel`), which does 36% of the multiply-adds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Upsample {
    /// Upsample, then the 5x5 convolution, literally (for comparison).
    Plain,
    /// Four folded 3x3 convolutions on the small map, interleaved (the same function, faster).
    #[default]
    SubPixel,
}

named_variants!(Upsample, "an upsampling form", Plain => "plain", SubPixel => "subpixel");

pub struct Generator {
    embedding: nn::Embedding,
    dense_1: nn::Linear,
    dense_2: nn::Linear,
    conv_1: nn::Conv2D,
    conv_2: nn::Conv2D,
    conv_out: nn::Conv2D,
    z_size: i64,
    pub upsample: Upsample,
    pub precision: Precision,
}

impl Generator {
    /// Registers the generator's parameters under `generator.*` in `vs`.
    pub fn new(vs: &nn::VarStore, z_size: i64, upsample: Upsample, precision: Precision) -> Generator {
        let p = vs.root() / "generator";
        let emb_cfg = nn::EmbeddingConfig { ws_init: glorot(CLASSES, z_size), ..Default::default() };
        Generator {
            embedding: nn::embedding(&p / "embedding", CLASSES, z_size, emb_cfg),
            dense_1: dense(&p / "dense_1", z_size, 1024),
            dense_2: dense(&p / "dense_2", 1024, 128 * 7 * 7),
            conv_1: conv(&p / "conv_1", 128, 256, 5, 2),
            conv_2: conv(&p / "conv_2", 256, 128, 5, 2),
            conv_out: conv(&p / "conv_out", 128, 1, 2, 0),
            z_size,
            upsample,
            precision,
        }
    }

    /// Length of the latent vector z.
    pub fn z_size(&self) -> i64 {
        self.z_size
    }

    /// The generator saved in `file` (a checkpoint's `generator.safetensors`), checked to fit and
    /// to be finite; its latent size is read from the file.
    pub fn load(
        file: &Path,
        device: Device,
        upsample: Upsample,
        precision: Precision,
    ) -> Result<(nn::VarStore, Generator)> {
        let tensors = Tensor::read_safetensors(file).with_context(|| format!("cannot read {}", file.display()))?;
        let z_size = tensors
            .iter()
            .find(|(name, t)| name == "generator.embedding.weight" && t.dim() == 2)
            .map(|(_, t)| t.size()[1])
            .with_context(|| {
                format!("{} has no generator.embedding.weight: it is not this project's generator", file.display())
            })?;
        let vs = nn::VarStore::new(device);
        let generator = Generator::new(&vs, z_size, upsample, precision);
        weights::load_var_store(&vs, file)?;
        Ok((vs, generator))
    }

    /// Parameters of a generator with latent size `z_size`, counted from the layer shapes without
    /// building it (for memory checks before anything is allocated).
    pub fn parameter_count(z_size: i64) -> i64 {
        CLASSES * z_size
            + dense_parameters(z_size, 1024)
            + dense_parameters(1024, 128 * 7 * 7)
            + conv_parameters(128, 256, 5)
            + conv_parameters(256, 128, 5)
            + conv_parameters(128, 1, 2)
    }

    /// Many images without autograd, in chunks of 100 (the batch size) so that memory stays
    /// bounded and every activation fits the blocks the allocator keeps (the critic
    /// loop's 10,000 fakes of a boost iteration, evaluation samples).
    pub fn generate(&self, z: &Tensor, class: &Tensor) -> Tensor {
        self.in_chunks(z, class, |z, c| self.forward(z, c))
    }

    /// `pass` over `z` and `class` in chunks of `generate`'s size, without autograd, its outputs
    /// concatenated (for what else is read from many samples, such as a traced layer).
    pub fn in_chunks(&self, z: &Tensor, class: &Tensor, mut pass: impl FnMut(&Tensor, &Tensor) -> Tensor) -> Tensor {
        let _guard = tch::no_grad_guard();
        let chunks: Vec<Tensor> =
            z.split(GENERATE_CHUNK, 0).iter().zip(class.split(GENERATE_CHUNK, 0)).map(|(z, c)| pass(z, &c)).collect();
        Tensor::cat(&chunks, 0)
    }

    /// `z [N,100]`, `class [N]` int64 -> images `[N,1,28,28]` in (-1,1), fp32.
    pub fn forward(&self, z: &Tensor, class: &Tensor) -> Tensor {
        self.forward_traced(z, class, &mut |_, _| {})
    }

    pub fn forward_traced(&self, z: &Tensor, class: &Tensor, trace: Trace) -> Tensor {
        let mut t = |name: &str, x: Tensor| {
            trace(name, &x);
            x
        };
        let h = t("embedding", self.embedding.forward(class));
        let h = t("multiply", cast(&(z * h), self.precision.kind()));
        let h = t("dense_1", linear_in(&h, &self.dense_1));
        let h = t("leaky_relu_1", leaky_relu(&h));
        let h = t("dense_2", linear_in(&h, &self.dense_2));
        let h = t("leaky_relu_2", leaky_relu(&h));
        let h = t("reshape", channels_last(&h.view([-1, 128, 7, 7])));
        // conv_1, conv_2 rows: nearest x2 upsampling then the 5x5 conv, as one step.
        let h = t("conv_1", self.up_conv(&h, &self.conv_1));
        let h = t("leaky_relu_3", leaky_relu(&h));
        let h = t("conv_2", self.up_conv(&h, &self.conv_2));
        let h = t("leaky_relu_4", leaky_relu(&h));
        let h = t("conv_out", conv2x2_same(&h, &self.conv_out));
        t("tanh", h.tanh().to_kind(Kind::Float))
    }

    fn up_conv(&self, x: &Tensor, conv: &nn::Conv2D) -> Tensor {
        let bias = conv.bs.as_ref().map(|b| cast(b, x.kind()));
        match self.upsample {
            Upsample::Plain => subpixel::plain_upsample_conv5x5(x, &cast(&conv.ws, x.kind()), bias.as_ref()),
            // The fold sums fp32 weights, then casts once.
            Upsample::SubPixel => subpixel::upsample_conv5x5(x, &conv.ws, bias.as_ref()),
        }
    }
}

/// A 2x2 conv with TensorFlow's "same" rule for even kernels: pad 0 before and 1 after, each axis.
pub fn conv2x2_same(x: &Tensor, conv: &nn::Conv2D) -> Tensor {
    conv_in(&x.constant_pad_nd([0, 1, 0, 1]), conv, 0)
}

/// Standard normal noise `[n, z_size]` and uniform random classes `[n]` on `device`.
pub fn noise(n: i64, z_size: i64, device: tch::Device) -> (Tensor, Tensor) {
    (Tensor::randn([n, z_size], (Kind::Float, device)), Tensor::randint(CLASSES, [n], (Kind::Int64, device)))
}

/// Number of scalar parameters of `vs` under a name prefix (`""` for all).
pub fn stored_parameter_count(vs: &nn::VarStore, prefix: &str) -> i64 {
    vs.variables().iter().filter(|(name, _)| name.starts_with(prefix)).map(|(_, t)| t.numel() as i64).sum()
}
