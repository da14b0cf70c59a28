//! Event files written through the wrapper read back with tags, steps and values intact.

use logging::tensorboard::{read_dir, read_scalars, EventWriter, Record};

#[test]
fn scalars_and_images_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = EventWriter::open(dir.path(), 0).unwrap();
    for step in [0u64, 10, 20] {
        w.scalar("D loss (-1*D_real_is_fake - D_fake_is_fake)", step as f32 * 0.5 - 1.25, step);
    }
    let pixels: Vec<u8> = (0..6 * 4).map(|i| i as u8 * 10).collect();
    w.gray_image("samples", &pixels, 6, 4, 10).unwrap();
    assert!(w.gray_image("samples", &pixels[1..], 6, 4, 10).is_err(), "wrong pixel count is an error, not a panic");
    w.close();
    let got = read_scalars(dir.path(), "D loss (-1*D_real_is_fake - D_fake_is_fake)").unwrap();
    assert_eq!(got, [(0, -1.25), (10, 3.75), (20, 8.75)]);
    let png = read_dir(dir.path()).unwrap().into_iter().find_map(|r| match r {
        Record::Image { tag, step: 10, png } if tag == "samples" => Some(png),
        _ => None,
    });
    let (back, h, w) = logging::read_gray_png(&png.expect("no image record")).unwrap();
    assert_eq!((h, w), (6, 4));
    assert_eq!(back, pixels);
}

#[test]
fn a_second_writer_replaces_repeated_steps_and_keeps_the_first_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = EventWriter::open(dir.path(), 0).unwrap();
    for step in 0..5u64 {
        first.scalar("x", step as f32, step);
    }
    first.close();
    // Same process, same second: the files must not clobber each other.
    let mut second = EventWriter::open(dir.path(), 3).unwrap();
    for step in 3..6u64 {
        second.scalar("x", 100.0 + step as f32, step);
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
