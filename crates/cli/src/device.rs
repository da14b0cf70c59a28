//! Device selection shared by every binary: `--gpu N`, `--cpu`, or CUDA 0 when available.

use anyhow::{bail, Result};
use tch::{Cuda, Device};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct DeviceArgs {
    /// Run on CUDA device N. Without --gpu or --cpu: CUDA device 0 when available, else the CPU.
    #[arg(long, global = true, value_name = "N", conflicts_with = "cpu")]
    pub gpu: Option<usize>,
    /// Run on the CPU even when CUDA is available.
    #[arg(long, global = true)]
    pub cpu: bool,
}

impl DeviceArgs {
    pub fn device(&self) -> Result<Device> {
        if self.cpu {
            return Ok(Device::Cpu);
        }
        let seen = if Cuda::is_available() { Cuda::device_count() } else { 0 };
        match self.gpu {
            Some(n) if seen == 0 => {
                bail!("--gpu {n}: CUDA is not available to this libtorch (it sees 0 CUDA devices); use --cpu")
            }
            Some(n) if n as i64 >= seen => {
                bail!("--gpu {n}: no such device; this libtorch sees {seen} CUDA device(s), numbered 0 to {}", seen - 1)
            }
            Some(n) => Ok(Device::Cuda(n)),
            None if seen > 0 => Ok(Device::Cuda(0)),
            None => {
                eprintln!("note: CUDA is not available, running on the CPU (--cpu says so explicitly, --gpu N requires a GPU)");
                Ok(Device::Cpu)
            }
        }
    }
}
