//! Tests on the real MNIST that scripts/setup put in data/mnist, and on fetching copies of it.

use data::{fetch, mnist, BatchSampler, Dataset, Split};
use std::path::PathBuf;
use tch::{Device, Kind, Tensor};

fn mnist_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist"));
    assert!(dir.is_dir(), "{} is missing: run scripts/setup first", dir.display());
    dir
}

fn offline(dir: PathBuf, from: Option<PathBuf>) -> fetch::Options {
    fetch::Options { dir, from, wheel: None, offline: true }
}

#[test]
fn gan_training_set_is_70k_scaled_to_unit_range() {
    let set = Dataset::gan_training_set(&mnist_dir(), Device::Cpu).unwrap();
    assert_eq!(set.images.size(), [70_000, 1, 28, 28]);
    assert_eq!(set.labels.size(), [70_000]);
    assert_eq!((set.images.kind(), set.labels.kind()), (Kind::Float, Kind::Int64));
    assert_eq!(set.images.min().double_value(&[]), -1.0);
    assert_eq!(set.images.max().double_value(&[]), 1.0);
    // Train comes first, test after: the last 10k are the test split.
    let test = Dataset::split(&mnist_dir(), Split::Test, Device::Cpu).unwrap();
    assert!(set.images.narrow(0, 60_000, 10_000).equal(&test.images));
}

#[test]
fn train_label_class_counts_are_canonical() {
    let train = Dataset::split(&mnist_dir(), Split::Train, Device::Cpu).unwrap();
    let counts = Vec::<i64>::try_from(train.labels.bincount::<Tensor>(None, 10)).unwrap();
    assert_eq!(counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
}

#[test]
fn flipped_byte_fails_verification_naming_the_file() {
    let copy = tempfile::tempdir().unwrap();
    for f in mnist::FILES {
        std::fs::copy(mnist_dir().join(f.name), copy.path().join(f.name)).unwrap();
    }
    mnist::verify_dir(copy.path()).unwrap();
    let victim = copy.path().join(mnist::TEST_LABELS.name);
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[5000] ^= 1;
    std::fs::write(&victim, bytes).unwrap();
    let msg = format!("{:#}", mnist::verify_dir(copy.path()).unwrap_err());
    assert!(msg.contains("t10k-labels-idx1-ubyte") && msg.contains("SHA-256"), "{msg}");
    assert!(!msg.contains("train-images"), "only the damaged file is reported: {msg}");
    // The loaders refuse it too, naming the file.
    let msg = format!("{:#}", Dataset::split(copy.path(), Split::Test, Device::Cpu).err().unwrap());
    assert!(msg.contains("t10k-labels-idx1-ubyte"), "{msg}");
}

#[test]
fn fetch_from_local_gz_dir_verifies_and_keeps_good_files() {
    let src = tempfile::tempdir().unwrap();
    for f in mnist::FILES {
        let raw = std::fs::read(mnist_dir().join(f.name)).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &raw).unwrap();
        std::fs::write(src.path().join(format!("{}.gz", f.name)), gz.finish().unwrap()).unwrap();
    }
    let dest = tempfile::tempdir().unwrap();
    let served = fetch::fetch(&offline(dest.path().to_path_buf(), Some(src.path().to_path_buf()))).unwrap();
    assert!(served.contains("local directory"), "{served}");
    mnist::verify_dir(dest.path()).unwrap();
    // A second fetch keeps the files (same inode, no rewrite), even when the source has gone bad.
    let ino = |p: &std::path::Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let before = ino(&dest.path().join(mnist::TRAIN_IMAGES.name));
    std::fs::write(src.path().join(format!("{}.gz", mnist::TRAIN_IMAGES.name)), b"garbage").unwrap();
    let served = fetch::fetch(&offline(dest.path().to_path_buf(), Some(src.path().to_path_buf()))).unwrap();
    assert!(served.contains("already present"), "{served}");
    assert_eq!(before, ino(&dest.path().join(mnist::TRAIN_IMAGES.name)));
}

#[test]
fn fetch_from_bad_source_writes_nothing_and_lists_routes() {
    let src = tempfile::tempdir().unwrap();
    std::fs::copy(mnist_dir().join(mnist::TRAIN_LABELS.name), src.path().join(mnist::TRAIN_LABELS.name)).unwrap();
    let mut bad = std::fs::read(mnist_dir().join(mnist::TEST_LABELS.name)).unwrap();
    bad[100] ^= 0xff;
    std::fs::write(src.path().join(mnist::TEST_LABELS.name), bad).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let msg =
        format!("{:#}", fetch::fetch(&offline(dest.path().to_path_buf(), Some(src.path().to_path_buf()))).unwrap_err());
    assert!(msg.contains("local directory") && msg.contains("Routes tried"), "{msg}");
    // Only verified files get a final name; no temporary file is left behind.
    let names: Vec<String> =
        std::fs::read_dir(dest.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(names.iter().all(|n| n == mnist::TRAIN_IMAGES.name || n == mnist::TRAIN_LABELS.name), "{names:?}");
    assert!(!names.iter().any(|n| n == mnist::TEST_LABELS.name));
}

#[test]
fn same_seed_gives_same_batches_of_distinct_indices() {
    let draw = |seed, stream| BatchSampler::new(seed, stream, 70_000, 100).batches(5, Device::Cpu);
    let a = draw(777, 3);
    assert_eq!(a.size(), [5, 100]);
    assert!(a.equal(&draw(777, 3)));
    assert!(!a.equal(&draw(777, 4)));
    assert!(!a.equal(&draw(778, 3)));
    for row in 0..5 {
        let (unique, _, _) = a.get(row).unique_dim(0, false, false, false);
        assert_eq!(unique.size()[0], 100, "batch {row} repeats an index");
    }
    let (lo, hi) = (a.min().int64_value(&[]), a.max().int64_value(&[]));
    assert!(lo >= 0 && hi < 70_000);
}
