//! MNIST for the WGAN-ACGAN: IDX reading, verification, acquisition, and the 70k training set.

pub mod carrier;
pub mod fetch;
pub mod idx;
pub mod mnist;

use anyhow::Result;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use tch::{Device, Kind, Tensor};

pub const DEFAULT_DIR: &str = "data/mnist";

/// Images `[N,1,28,28]` float32 in [-1,1] and labels `[N]` int64, on one device.
pub struct Dataset {
    pub images: Tensor,
    pub labels: Tensor,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Split {
    Train,
    Test,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One MNIST split from a verified directory.
    pub fn split(dir: &Path, split: Split, device: Device) -> Result<Dataset> {
        mnist::verify_dir(dir)?;
        Dataset::split_unverified(dir, split, device)
    }

    fn split_unverified(dir: &Path, split: Split, device: Device) -> Result<Dataset> {
        let (images, labels) = match split {
            Split::Train => (&mnist::TRAIN_IMAGES, &mnist::TRAIN_LABELS),
            Split::Test => (&mnist::TEST_IMAGES, &mnist::TEST_LABELS),
        };
        let (x, y) = idx::read_pair(&images.find(dir).unwrap(), &labels.find(dir).unwrap())?;
        Ok(Dataset::from_idx(&x, &y, device))
    }

    /// Both MNIST splits from a directory verified once.
    pub fn train_and_test(dir: &Path, device: Device) -> Result<(Dataset, Dataset)> {
        mnist::verify_dir(dir)?;
        Ok((
            Dataset::split_unverified(dir, Split::Train, device)?,
            Dataset::split_unverified(dir, Split::Test, device)?,
        ))
    }

    /// The GAN's training set (docs/SPEC.md "Data"): train (60k) then test (10k), 70,000 images.
    pub fn gan_training_set(dir: &Path, device: Device) -> Result<Dataset> {
        let (train, test) = Dataset::train_and_test(dir, device)?;
        Ok(Dataset {
            images: Tensor::cat(&[train.images, test.images], 0),
            labels: Tensor::cat(&[train.labels, test.labels], 0),
        })
    }

    /// Scales bytes as `(x - 127.5) / 127.5`, so 0 -> -1 and 255 -> 1 exactly: the one place
    /// where the arrays become tensors.
    pub fn from_idx(images: &idx::Images, labels: &idx::Labels, device: Device) -> Dataset {
        let (count, rows, cols) = images.dim();
        let shape = [count as i64, 1, rows as i64, cols as i64];
        let pixels = images.as_standard_layout();
        let x = Tensor::from_slice(pixels.as_slice().expect("standard layout is contiguous")).to_kind(Kind::Float);
        let images = ((x - 127.5) / 127.5).view(shape).to(device);
        let labels =
            Tensor::from_slice(labels.as_slice().expect("a 1-D array is contiguous")).to_kind(Kind::Int64).to(device);
        Dataset { images, labels }
    }

    /// The examples at `index` (an int64 tensor of any shape `[..]`): `[.., 1, 28, 28]`, `[..]`.
    pub fn gather(&self, index: &Tensor) -> (Tensor, Tensor) {
        let flat = index.flatten(0, -1);
        let mut shape = index.size();
        let x = self.images.index_select(0, &flat);
        shape.extend_from_slice(&x.size()[1..]);
        (x.view(shape.as_slice()), self.labels.index_select(0, &flat).view_as(index))
    }
}

/// Batches of distinct indices (no replacement inside a batch, as the article's sampler), from a
/// seeded ChaCha stream: the same (seed, stream) gives the same batches on every machine.
pub struct BatchSampler {
    rng: ChaCha8Rng,
    n: usize,
    batch_size: usize,
}

impl BatchSampler {
    /// `stream` selects an independent sequence for the same seed (training uses the iteration,
    /// so that a resumed run draws exactly the batches the uninterrupted one would).
    pub fn new(seed: u64, stream: u64, n: usize, batch_size: usize) -> BatchSampler {
        assert!(batch_size <= n, "batch size {batch_size} exceeds the {n} examples");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        BatchSampler { rng, n, batch_size }
    }

    /// `count` batches as one int64 tensor `[count, batch_size]` on `device` (one copy for all).
    pub fn batches(&mut self, count: usize, device: Device) -> Tensor {
        let idx: Vec<i64> = (0..count)
            .flat_map(|_| {
                rand::seq::index::sample(&mut self.rng, self.n, self.batch_size)
                    .into_iter()
                    .map(|i| i as i64)
                    .collect::<Vec<_>>()
            })
            .collect();
        Tensor::from_slice(&idx).view([count as i64, self.batch_size as i64]).to(device)
    }
}
