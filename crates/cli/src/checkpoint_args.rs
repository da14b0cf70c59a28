//! Which checkpoint of which run: the flags of every tool that reads one.

use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct CheckpointArgs {
    /// Run name (a directory under --runs-dir).
    #[arg(long, default_value = "B", value_parser = crate::parse::run_name)]
    pub run: String,
    /// Directory holding the runs.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// Use the checkpoint after this many iterations (default: the newest).
    #[arg(long)]
    pub checkpoint: Option<u64>,
}

impl CheckpointArgs {
    pub fn run_dir(&self) -> PathBuf {
        self.runs_dir.join(&self.run)
    }
}
