//! The networks' arithmetic: exact fp32, or mixed precision as practitioners use it (bf16
//! convolutions and matrix products; fp32 master weights, optimizer, clipping, losses). And the
//! CUDA switches libtorch keeps in its global context (TF32, cuDNN autotuning).
//!
//! Mixed precision is written as explicit casts in the model rather than libtorch's autocast:
//! tch reaches autocast only for CUDA, and the casts behave the same on both devices and show in
//! the code which operation runs in which precision.

use serde::{Deserialize, Serialize};
use std::ffi::c_void;
use tch::{Device, Kind};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// float32 everywhere (docs/SPEC.md's arithmetic).
    #[default]
    Fp32,
    /// bfloat16 convolutions and matrix products, float32 everything else.
    Bf16,
}

named_variants!(Precision, "a precision", Fp32 => "fp32", Bf16 => "bf16");

impl Precision {
    /// The element type of the convolutions and matrix products.
    pub fn kind(self) -> Kind {
        match self {
            Precision::Fp32 => Kind::Float,
            Precision::Bf16 => Kind::BFloat16,
        }
    }

    /// A one-line notice when this device runs bf16 without hardware support for it.
    pub fn notice(self, device: Device) -> Option<String> {
        if self != Precision::Bf16 || device.is_cuda() {
            return None;
        }
        match cpu_bf16() {
            CpuBf16::Amx | CpuBf16::Avx512 => None,
            CpuBf16::None => Some(
                "note: this CPU has neither AMX-BF16 nor AVX512-BF16; bf16 is emulated and likely slower than fp32"
                    .into(),
            ),
        }
    }
}

/// What the CPU offers oneDNN for bf16 (it picks the best on its own: AMX tiles when present).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuBf16 {
    Amx,
    Avx512,
    None,
}

pub fn cpu_bf16() -> CpuBf16 {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags: Vec<&str> = info.lines().find(|l| l.starts_with("flags")).unwrap_or("").split_whitespace().collect();
    if flags.contains(&"amx_bf16") {
        CpuBf16::Amx
    } else if flags.contains(&"avx512_bf16") {
        CpuBf16::Avx512
    } else {
        CpuBf16::None
    }
}

// at::globalContext()'s TF32 switches. tch exposes none of them, so these are the C++ methods
// called through their Itanium-mangled names (a non-virtual member function takes `this` as its
// first argument). They exist, with these signatures, in libtorch 2.x, CPU and CUDA builds alike.
#[link(name = "torch_cpu")]
extern "C" {
    #[link_name = "_ZN2at13globalContextEv"]
    fn at_global_context() -> *mut c_void;
    #[link_name = "_ZN2at7Context18setAllowTF32CuBLASEb"]
    fn at_set_allow_tf32_cublas(context: *mut c_void, allow: bool);
    #[link_name = "_ZN2at7Context17setAllowTF32CuDNNEb"]
    fn at_set_allow_tf32_cudnn(context: *mut c_void, allow: bool);
    #[link_name = "_ZNK2at7Context15allowTF32CuBLASEv"]
    fn at_allow_tf32_cublas(context: *const c_void) -> bool;
}

/// TF32 for CUDA matrix products (cuBLAS) and convolutions (cuDNN). libtorch's own defaults
/// differ (off for cuBLAS, on for cuDNN); every binary sets both explicitly so that fp32 means
/// fp32 unless `--tf32` is given.
pub fn set_tf32(allow: bool) {
    // SAFETY: globalContext() returns the process-wide context, alive for the whole program; the
    // setters only store a flag.
    unsafe {
        let context = at_global_context();
        at_set_allow_tf32_cublas(context, allow);
        at_set_allow_tf32_cudnn(context, allow);
    }
}

/// Whether cuBLAS may use TF32 now (read back from libtorch).
pub fn tf32_cublas() -> bool {
    // SAFETY: as in `set_tf32`; the getter only reads.
    unsafe { at_allow_tf32_cublas(at_global_context()) }
}

/// The CUDA settings of a run: TF32 as asked, and cuDNN autotuning (it picks the fastest
/// convolution algorithm for each shape once; the arithmetic stays what TF32 says).
pub fn configure_cuda(tf32: bool) {
    set_tf32(tf32);
    tch::Cuda::cudnn_set_benchmark(true);
}
