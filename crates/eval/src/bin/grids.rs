//! `grids`: the sample grids runs logged during training, side by side at equal iterations.

use anyhow::{ensure, Result};
use clap::Parser;
use std::path::PathBuf;

/// Put the sample grids that runs logged during training side by side: a row per run, a column
/// per iteration, labelled. One run shows its progress (docs/results/B-grids.png); several show
/// how they differ at equal iterations (run B against the as-published run P).
#[derive(Parser)]
struct Cli {
    /// Run name; repeat for a row per run.
    #[arg(long, default_value = "B", value_parser = cli::parse::run_name)]
    run: Vec<String>,
    /// Directory holding the runs.
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
    /// Iterations, comma-separated (default: the article's milestones, the last of them 19,750: a
    /// run of 20,000 iterations logs its grids at 0, 250, ..., 19,750, as the article's loop did).
    /// One that some run has no grid for is left out, with a notice.
    #[arg(long, value_delimiter = ',', default_value = "2000,4000,8000,12000,16000,19750")]
    at: Vec<u64>,
    /// Output PNG (default: <runs-dir>/<run>/grids.png for one run, else <runs-dir>/grids.png). An
    /// existing file other than the default is kept unless --force.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    force: bool,
}

fn main() {
    let cli = Cli::parse();
    cli::main(|| grids(cli))
}

fn grids(cli: Cli) -> Result<()> {
    let out = eval::picture_path(&cli.runs_dir, &cli.run, "grids", cli.out, cli.force)?;
    let run_dirs: Vec<PathBuf> = cli.run.iter().map(|r| cli.runs_dir.join(r)).collect();
    for dir in &run_dirs {
        ensure!(rundir::is_run(dir), "{} holds no run (no {})", dir.display(), rundir::CONFIG_FILE);
    }

    let (mut columns, mut rows) = (Vec::new(), vec![Vec::new(); run_dirs.len()]);
    for &it in &cli.at {
        let found: Vec<_> = run_dirs.iter().map(|d| eval::grids::read_grid(d, it)).collect::<Result<_>>()?;
        let missing: Vec<&str> =
            cli.run.iter().zip(&found).filter(|(_, g)| g.is_none()).map(|(r, _)| r.as_str()).collect();
        if !missing.is_empty() {
            eprintln!("iteration {}: no grid in run {}; left out", cli::thousands(it), missing.join(", "));
            continue;
        }
        columns.push(format!("iteration {}", cli::thousands(it)));
        rows.iter_mut().zip(found).for_each(|(row, grid)| row.extend(grid));
    }
    ensure!(
        !columns.is_empty(),
        "no iteration of --at {:?} has a grid in every run; a run logs its grids in <run>/{}/ every --sample-every iterations",
        cli.at,
        rundir::SAMPLES_DIR
    );
    let sheet = eval::grids::sheet(&cli.run, &columns, &rows)?;
    logging::write_gray_png(&out, &sheet.view())?;
    println!("wrote {} ({} x {} grids)", out.display(), rows.len(), columns.len());
    Ok(())
}
