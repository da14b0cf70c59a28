//! The four canonical MNIST files and their SHA-256 digests (of the uncompressed bytes).

use crate::idx;
use anyhow::{bail, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub struct MnistFile {
    pub name: &'static str,
    pub bytes: usize,
    pub sha256: &'static str,
}

pub const TRAIN_IMAGES: MnistFile = MnistFile {
    name: "train-images-idx3-ubyte",
    bytes: 47_040_016,
    sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
};
pub const TRAIN_LABELS: MnistFile = MnistFile {
    name: "train-labels-idx1-ubyte",
    bytes: 60_008,
    sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
};
pub const TEST_IMAGES: MnistFile = MnistFile {
    name: "t10k-images-idx3-ubyte",
    bytes: 7_840_016,
    sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
};
pub const TEST_LABELS: MnistFile = MnistFile {
    name: "t10k-labels-idx1-ubyte",
    bytes: 10_008,
    sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
};
pub const FILES: [&MnistFile; 4] = [&TRAIN_IMAGES, &TRAIN_LABELS, &TEST_IMAGES, &TEST_LABELS];

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl MnistFile {
    /// The file in `dir`, raw or gzipped (raw preferred), if either exists.
    pub fn find(&self, dir: &Path) -> Option<PathBuf> {
        [self.name.to_string(), format!("{}.gz", self.name)].into_iter().map(|n| dir.join(n)).find(|p| p.is_file())
    }

    /// Ok when `bytes` (uncompressed) are exactly this file.
    pub fn check(&self, bytes: &[u8]) -> Result<()> {
        if bytes.len() != self.bytes {
            bail!("{} is {} bytes, expected {}", self.name, bytes.len(), self.bytes);
        }
        let digest = sha256_hex(bytes);
        if digest != self.sha256 {
            bail!("{}: SHA-256 {digest} does not match the canonical {}", self.name, self.sha256);
        }
        Ok(())
    }

    /// Verifies the copy in `dir`; the error names the file and what is wrong.
    pub fn verify_in(&self, dir: &Path) -> Result<PathBuf> {
        let Some(path) = self.find(dir) else {
            if let Some(odd) =
                [self.name.to_string(), format!("{}.gz", self.name)].iter().map(|n| dir.join(n)).find(|p| p.exists())
            {
                bail!("{}: {} is not a regular file (a directory?); put the IDX file there", self.name, odd.display());
            }
            bail!("{}: missing (neither {0} nor {0}.gz in {})", self.name, dir.display());
        };
        let bytes = idx::read_bytes(&path, self.bytes as u64)?;
        self.check(&bytes).map_err(|e| anyhow::anyhow!("{}: {e:#}", path.display()))?;
        Ok(path)
    }
}

/// Verifies all four files, for use before training; the error lists every failure and the fix.
pub fn verify_dir(dir: &Path) -> Result<()> {
    let failures: Vec<String> = FILES.iter().filter_map(|f| f.verify_in(dir).err()).map(|e| format!("{e:#}")).collect();
    if !failures.is_empty() {
        bail!(
            "MNIST in {} does not verify:\n  {}\nRun `cargo run --release -p data -- fetch --dir {}` (or scripts/setup).",
            dir.display(),
            failures.join("\n  "),
            dir.display()
        );
    }
    Ok(())
}
