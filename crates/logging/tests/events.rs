//! Event files written through the wrapper read back with tags, steps and values intact.

use logging::tensorboard::{read_dir, read_scalars, EventWriter, Record};

#[test]
fn scalars_and_images_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = EventWriter::open(dir.path(), 0).unwrap();
    for step in [0u64, 10, 20] {
        w.scalar("D loss (-1*D_real_is_fake - D_fake_is_fake)", step as f32 * 0.5 - 1.25, step).unwrap();
    }
    let pixels = ndarray::Array2::from_shape_fn((6, 4), |(r, c)| (r * 4 + c) as u8 * 10);
    w.gray_image("samples", &pixels.view(), 10).unwrap();
    let empty = ndarray::Array2::<u8>::zeros((0, 4));
    assert!(w.gray_image("samples", &empty.view(), 10).is_err(), "an empty image is an error, not a panic");
    w.text("eval/judge", "sha256 0123", 10).unwrap();
    w.flush().unwrap();
    let got = read_scalars(dir.path(), "D loss (-1*D_real_is_fake - D_fake_is_fake)").unwrap();
    assert_eq!(got, [(0, -1.25), (10, 3.75), (20, 8.75)]);
    let png = read_dir(dir.path()).unwrap().into_iter().find_map(|r| match r {
        Record::Image { tag, step: 10, png } if tag == "samples" => Some(png),
        _ => None,
    });
    let back = logging::read_gray_png(&png.expect("no image record")).unwrap();
    assert_eq!(back, pixels);
    let texts: Vec<Record> =
        read_dir(dir.path()).unwrap().into_iter().filter(|r| matches!(r, Record::Text { .. })).collect();
    assert_eq!(texts, [Record::Text { tag: "eval/judge".into(), step: 10, text: "sha256 0123".into() }]);
}

#[test]
fn a_second_writer_replaces_repeated_steps_and_keeps_the_first_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = EventWriter::open(dir.path(), 0).unwrap();
    for step in 0..5u64 {
        first.scalar("x", step as f32, step).unwrap();
    }
    drop(first);
    // Same process, same second: the files must not clobber each other.
    let mut second = EventWriter::open(dir.path(), 3).unwrap();
    for step in 3..6u64 {
        second.scalar("x", 100.0 + step as f32, step).unwrap();
    }
    drop(second);
    let files = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(files, 2);
    assert_eq!(
        read_scalars(dir.path(), "x").unwrap(),
        [(0, 0.0), (1, 1.0), (2, 2.0), (3, 103.0), (4, 104.0), (5, 105.0)]
    );
}

#[test]
fn unwritable_directory_is_an_error() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let err = EventWriter::open(&file.path().join("run"), 0).err().expect("opened a directory under a file");
    assert!(format!("{err:#}").contains("cannot create"));
}

#[test]
fn a_file_dated_in_the_future_is_followed_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    // A clock that went back: an existing file claims to be from 1000 s ahead.
    let future = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 1000;
    let mut old = EventWriter::open(dir.path(), 0).unwrap();
    old.scalar("x", 1.0, 0).unwrap();
    old.scalar("x", 2.0, 1).unwrap();
    drop(old);
    let old_name = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
    let skewed = dir.path().join(format!("events.out.tfevents.{future:010}.host.1.0"));
    std::fs::rename(&old_name, &skewed).unwrap();
    let started = std::time::Instant::now();
    let mut new = EventWriter::open(dir.path(), 1).unwrap();
    new.scalar("x", 20.0, 1).unwrap();
    drop(new);
    assert!(started.elapsed().as_secs() < 5, "waited for the clock");
    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names[0], skewed.file_name().unwrap().to_str().unwrap(), "the new file must sort after the skewed one");
    assert_eq!(read_scalars(dir.path(), "x").unwrap(), [(0, 1.0), (1, 20.0)]);
}

/// TensorBoard itself (its EventAccumulator, from the setup's Python) reads what the writer wrote:
/// scalars, the image, the text, and a resumed file's replacement of repeated steps.
#[test]
fn tensorboard_reads_the_files() {
    let python = std::env::var("WGAN_PYTHON").expect("WGAN_PYTHON is set by scripts/setup's .cargo/config.toml");
    let dir = tempfile::tempdir().unwrap();
    let mut first = EventWriter::open(dir.path(), 0).unwrap();
    for step in 0..4u64 {
        first.scalar("D_real_is_fake", step as f32, step).unwrap();
    }
    first.gray_image("samples", &ndarray::arr2(&[[0u8, 255], [128, 64]]).view(), 0).unwrap();
    drop(first);
    let mut resumed = EventWriter::open(dir.path(), 2).unwrap();
    resumed.scalar("D_real_is_fake", 20.0, 2).unwrap();
    resumed.text("eval/judge", "judge SHA-256 abc", 2).unwrap();
    drop(resumed);
    let script = r#"
import sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1], size_guidance={"tensors": 0, "scalars": 0, "images": 0})
acc.Reload()
print([(e.step, e.value) for e in acc.Scalars("D_real_is_fake")])
print([(e.step, e.height, e.width) for e in acc.Images("samples")])
print([(e.step, e.tensor_proto.string_val[0].decode()) for e in acc.Tensors("eval/judge")])
"#;
    let out = std::process::Command::new(python).args(["-c", script, dir.path().to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect();
    assert_eq!(lines, ["[(0, 0.0), (1, 1.0), (2, 20.0)]", "[(0, 2, 2)]", "[(2, 'judge SHA-256 abc')]"]);
}

/// A file with three scalars, and the byte offsets of its records.
fn three_scalars(dir: &std::path::Path) -> (std::path::PathBuf, Vec<u8>) {
    let mut w = EventWriter::open(dir, 0).unwrap();
    for step in 0..3u64 {
        w.scalar("x", step as f32, step).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let file = std::fs::read_dir(dir).unwrap().next().unwrap().unwrap().path();
    let bytes = std::fs::read(&file).unwrap();
    (file, bytes)
}

/// The offset of the last record of `bytes` (TFRecord framing).
fn last_record(bytes: &[u8]) -> usize {
    let (mut i, mut last) = (0, 0);
    while i < bytes.len() {
        last = i;
        i += 12 + u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap()) as usize + 4;
    }
    last
}

#[test]
fn damage_is_an_error_naming_the_file_and_offset_and_a_cut_tail_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let (file, bytes) = three_scalars(dir.path());
    let at = last_record(&bytes);
    let error = |damaged: &[u8]| {
        std::fs::write(&file, damaged).unwrap();
        format!("{:#}", read_dir(dir.path()).unwrap_err())
    };

    // A flipped bit in the last record's data: its checksum no longer matches.
    let mut flipped = bytes.clone();
    flipped[at + 14] ^= 4;
    let e = error(&flipped);
    assert!(e.contains(&format!("{}: damaged record at byte {at} (its data's checksum", file.display())), "{e}");

    // A flipped bit in a length: its own checksum catches it.
    let mut length = bytes.clone();
    length[at + 2] ^= 1;
    assert!(error(&length).contains("its length's checksum does not match"));

    // A crafted length with a valid checksum, as large as a u64 holds: refused, not an overflow.
    let mut crafted = bytes[..at].to_vec();
    let huge = u64::MAX.to_le_bytes();
    crafted.extend_from_slice(&huge);
    crafted.extend_from_slice(&tensorboard_rs::masked_crc32c::masked_crc32c(&huge).to_le_bytes());
    crafted.extend_from_slice(&[0; 20]);
    assert!(error(&crafted).contains("more than any event holds"));

    // A writer killed in the middle of its last record: the records before it are read.
    std::fs::write(&file, &bytes[..bytes.len() - 3]).unwrap();
    assert_eq!(read_scalars(dir.path(), "x").unwrap(), [(0, 0.0), (1, 1.0)]);
}
