//! `sample`: a grid of images from a trained run's generator.

use anyhow::{ensure, Context, Result};
use clap::Parser;
use cli::{CheckpointArgs, DeviceArgs};
use model::Precision;
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

/// Write a grid of generated digits from a run's newest (or a chosen) checkpoint.
///
/// Without --class, row r holds class r and each column one noise vector (n must be a multiple
/// of 10). With --class, all n images are that digit, 10 to a row.
#[derive(Parser)]
#[command(allow_negative_numbers = true)]
struct Cli {
    #[command(flatten)]
    source: CheckpointArgs,
    /// Only this digit (0-9).
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..10))]
    class: Option<i64>,
    /// Number of images (1 to 10,000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=10_000))]
    n: i64,
    /// Seed of the noise vectors.
    #[arg(long, default_value_t = 0)]
    seed: i64,
    /// Output PNG (default: <run>/samples/sample_<iterations>[_class<k>].png). An existing file is
    /// kept unless --force; a run's own files (config, checkpoints, logs, training grids) never
    /// are replaced.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing output file.
    #[arg(long)]
    force: bool,
    /// Arithmetic of the generator: fp32 or bf16.
    #[arg(long, default_value = "fp32", value_parser = cli::parse::one_of::<Precision>(Precision::NAMES))]
    precision: Precision,
    #[command(flatten)]
    device: DeviceArgs,
}

fn main() {
    let cli = Cli::parse();
    cli::main(|| sample(cli))
}

/// The sample tool's own files in a run directory: `samples/sample_*.png`.
fn ours(out: &Path) -> bool {
    out.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("sample_"))
        && out.parent().and_then(|p| p.file_name()).is_some_and(|n| n == "samples")
}

fn sample(cli: Cli) -> Result<()> {
    ensure!(
        cli.class.is_some() || cli.n % 10 == 0,
        "--n {} must be a multiple of 10 without --class (one row per digit)",
        cli.n
    );
    let device = cli.device.device()?;
    let run_dir = cli.source.run_dir();
    let (iteration, checkpoint, _vs, generator) =
        eval::load_generator(&run_dir, cli.source.checkpoint, &[], device, cli.precision)?;
    let suffix = cli.class.map(|k| format!("_class{k}")).unwrap_or_default();
    let out = cli.out.clone().unwrap_or_else(|| run_dir.join(format!("samples/sample_{iteration:07}{suffix}.png")));
    rundir::output::check(&out, cli.force, ours)?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let z_size = generator.z_size();
    tch::manual_seed(cli.seed);
    let n = cli.n;
    let (rows, cols, z, classes) = match cli.class {
        Some(k) => {
            let cols = 10.min(n);
            let z = Tensor::randn([n, z_size], (Kind::Float, device));
            ((n + cols - 1) / cols, cols, z, Tensor::full([n], k, (Kind::Int64, device)))
        }
        None => {
            let cols = n / 10;
            let z = Tensor::randn([cols, z_size], (Kind::Float, device)).repeat([10, 1]);
            (10, cols, z, Tensor::arange(10, (Kind::Int64, device)).repeat_interleave_self_int(cols, 0, None))
        }
    };
    let images = generator.generate(&z, &classes);
    // Cells past n (with --class) stay black.
    let blank = Tensor::full([rows * cols - images.size()[0], 1, 28, 28], -1.0, (Kind::Float, device));
    let grid = train::grid::tile(&Tensor::cat(&[images, blank], 0), rows, cols);
    logging::write_gray_png(&out, &grid.view())?;
    let (h, w) = grid.dim();
    println!("wrote {} ({w}x{h}, {} images, checkpoint {})", out.display(), cli.n, checkpoint.display());
    Ok(())
}
