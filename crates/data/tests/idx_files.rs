//! IDX parsing on files written here: one valid pair and malformed variants, each with its error.

use data::idx::{self, encode, IMAGES_MAGIC, LABELS_MAGIC};
use std::io::Write;
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn images_bytes(count: u32) -> Vec<u8> {
    let pixels: Vec<u8> = (0..count * 4 * 3).map(|i| (i * 7 % 256) as u8).collect();
    encode(IMAGES_MAGIC, &[count, 4, 3], &pixels)
}

fn labels_bytes(labels: &[u8]) -> Vec<u8> {
    encode(LABELS_MAGIC, &[labels.len() as u32], labels)
}

/// The error message (with causes) of reading `bytes` as images or labels from `name`.
fn error_of(name: &str, bytes: &[u8], images: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), name, bytes);
    let err = if images { idx::read_images(&path).err() } else { idx::read_labels(&path).err() };
    let msg = format!("{:#}", err.expect("malformed file was accepted"));
    assert!(msg.contains(name), "error does not name the file: {msg}");
    msg
}

#[test]
fn valid_files_read_back_raw_and_gzipped() {
    let dir = tempfile::tempdir().unwrap();
    let raw = images_bytes(5);
    let x = idx::read_images(&write(dir.path(), "x-idx3-ubyte", &raw)).unwrap();
    assert_eq!(x.dim(), (5, 4, 3));
    assert_eq!(x.as_slice().unwrap(), &raw[16..]);
    assert_eq!(x[[1, 0, 2]], raw[16 + 12 + 2], "image 1, row 0, column 2");
    let xz = idx::read_images(&write(dir.path(), "x-idx3-ubyte.gz", &gzip(&raw))).unwrap();
    assert_eq!(x, xz);
    let (imgs, labs) = idx::read_pair(
        &dir.path().join("x-idx3-ubyte"),
        &write(dir.path(), "y-idx1-ubyte.gz", &gzip(&labels_bytes(&[0, 9, 3, 3, 1]))),
    )
    .unwrap();
    assert_eq!((imgs.dim().0, labs.to_vec()), (5, vec![0, 9, 3, 3, 1]));
}

#[test]
fn bad_magic() {
    let mut b = images_bytes(2);
    b[2] = 0x0d; // float32 data instead of u8
    assert!(error_of("img", &b, true).contains("bad magic number"));
}

#[test]
fn labels_magic_given_to_image_reader() {
    let msg = error_of("img", &labels_bytes(&[1, 2]), true);
    assert!(msg.contains("rank 1, expected rank 3"), "{msg}");
}

#[test]
fn wrong_rank_for_labels() {
    let msg = error_of("lab", &images_bytes(2), false);
    assert!(msg.contains("rank 3, expected rank 1"), "{msg}");
}

#[test]
fn truncated_data() {
    let b = images_bytes(3);
    assert!(error_of("img", &b[..b.len() - 1], true).contains("truncated"));
}

#[test]
fn truncated_header() {
    assert!(error_of("img", &images_bytes(3)[..10], true).contains("shorter than its 16-byte header"));
}

#[test]
fn trailing_bytes() {
    let mut b = labels_bytes(&[1, 2, 3]);
    b.extend_from_slice(&[0, 0]);
    assert!(error_of("lab", &b, false).contains("2 trailing bytes"));
}

#[test]
fn label_ten() {
    let msg = error_of("lab", &labels_bytes(&[1, 10, 3]), false);
    assert!(msg.contains("label 10 at index 1"), "{msg}");
}

#[test]
fn empty_file() {
    assert!(error_of("lab", &[], false).contains("0 bytes, too short"));
}

#[test]
fn zero_items_declared() {
    assert!(error_of("lab", &labels_bytes(&[]), false).contains("declares 0 items"));
}

#[test]
fn zero_sized_images() {
    assert!(error_of("img", &encode(IMAGES_MAGIC, &[2, 0, 28], &[]), true).contains("empty"));
}

#[test]
fn not_gzip_despite_gz_name() {
    let msg = error_of("lab.gz", &labels_bytes(&[1, 2]), false);
    assert!(msg.contains("not a valid gzip"), "{msg}");
}

#[test]
fn truncated_gzip() {
    let gz = gzip(&images_bytes(40));
    assert!(error_of("img.gz", &gz[..gz.len() / 2], true).contains("gzip"));
}

#[test]
fn count_mismatch_between_images_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let x = write(dir.path(), "x", &images_bytes(3));
    let y = write(dir.path(), "y", &labels_bytes(&[1, 2]));
    let msg = format!("{:#}", idx::read_pair(&x, &y).unwrap_err());
    assert!(msg.contains("3 images") && msg.contains("2 labels"), "{msg}");
}

#[test]
fn missing_file_is_named() {
    let msg = format!("{:#}", idx::read_labels(Path::new("/nonexistent/lab")).unwrap_err());
    assert!(msg.contains("/nonexistent/lab"), "{msg}");
}
