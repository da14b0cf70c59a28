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
