//! TensorBoard event files through tensorboard-rs 0.5.9, with its sharp edges kept from the user:
//! it panics on bad input (so every input is validated here first), wants images as interleaved
//! RGB with dims `[3, W, H]` (gray is repeated into three channels here), only flushes for real when
//! its writer is dropped (so `close` drops it), and names files by the second, pid and host, so two
//! writers in one directory and one second would clobber or misorder each other (so `open` waits
//! for the next second when the directory already has a file from this one).

use anyhow::{ensure, Context, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tensorboard_proto::event::{Event, SessionLog, SessionLog_SessionStatus};
use tensorboard_rs::summary_writer::FileWriter;

pub struct EventWriter {
    writer: Option<FileWriter>,
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The largest creation second among the event files in `dir` (0 when there are none).
fn newest_event_second(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_prefix("events.out.tfevents.")?.split('.').next()?.parse().ok())
        .max()
        .unwrap_or(0)
}

impl EventWriter {
    /// Opens a new event file in `dir` (created if needed). `start_step`: TensorBoard drops the
    /// events of earlier files at steps >= it, so a resumed run replaces what it repeats.
    pub fn open(dir: &Path, start_step: u64) -> Result<EventWriter> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let probe = dir.join(".write-test");
        std::fs::write(&probe, b"").with_context(|| format!("cannot write in {}", dir.display()))?;
        std::fs::remove_file(&probe).ok();
        while newest_event_second(dir) >= now_secs() {
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut writer = FileWriter::new(dir);
        let mut event = Event::new();
        let mut log = SessionLog::new();
        log.set_status(SessionLog_SessionStatus::START);
        event.set_session_log(log);
        writer.add_event(&event, start_step as usize);
        Ok(EventWriter { writer: Some(writer) })
    }

    pub fn scalar(&mut self, tag: &str, value: f32, step: u64) {
        let summary = tensorboard_rs::summary::scalar(tag, value);
        self.writer.as_mut().unwrap().add_summary(summary, step as usize);
    }

    /// A grayscale image, `pixels` row-major `height x width`.
    pub fn gray_image(&mut self, tag: &str, pixels: &[u8], height: usize, width: usize, step: u64) -> Result<()> {
        ensure!(height > 0 && width > 0, "image {tag}: empty {height}x{width}");
        ensure!(pixels.len() == height * width, "image {tag}: {} pixels for {height}x{width}", pixels.len());
        let rgb: Vec<u8> = pixels.iter().flat_map(|&p| [p, p, p]).collect();
        let summary = tensorboard_rs::summary::image(tag, &rgb, &[3, width, height]);
        self.writer.as_mut().unwrap().add_summary(summary, step as usize);
        Ok(())
    }

    /// Writes everything out and closes the file; dropping does the same.
    pub fn close(mut self) {
        self.writer.take();
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        // tensorboard-rs's writer thread flushes and joins only when the writer is dropped.
        self.writer.take();
    }
}

/// What a reader finds in a directory's event files.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Scalar { tag: String, step: u64, value: f32 },
    Image { tag: String, step: u64, png: Vec<u8> },
}

impl Record {
    fn step(&self) -> u64 {
        match self {
            Record::Scalar { step, .. } | Record::Image { step, .. } => *step,
        }
    }
}

/// Reads all event files of `dir` in TensorBoard's order (by file name), applying its rule that a
/// session START at step S drops earlier events at steps >= S. A truncated last record (a killed
/// writer) ends its file quietly, as in TensorBoard.
pub fn read_dir(dir: &Path) -> Result<Vec<Record>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("events.out.tfevents."))
        .collect();
    files.sort();
    let mut records: Vec<Record> = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file)?;
        for payload in tfrecords(&bytes) {
            let event: Event = protobuf::Message::parse_from_bytes(payload)
                .with_context(|| format!("{}: undecodable event", file.display()))?;
            let step = event.get_step() as u64;
            if event.has_session_log() && event.get_session_log().get_status() == SessionLog_SessionStatus::START {
                records.retain(|r| r.step() < step);
            }
            for v in event.get_summary().get_value() {
                let tag = v.get_tag().to_string();
                if v.has_image() {
                    records.push(Record::Image { tag, step, png: v.get_image().get_encoded_image_string().to_vec() });
                } else {
                    records.push(Record::Scalar { tag, step, value: v.get_simple_value() });
                }
            }
        }
    }
    Ok(records)
}

/// Every scalar with `tag`, as (step, value), in file order.
pub fn read_scalars(dir: &Path, tag: &str) -> Result<Vec<(u64, f32)>> {
    Ok(read_dir(dir)?
        .into_iter()
        .filter_map(|r| match r {
            Record::Scalar { tag: t, step, value } if t == tag => Some((step, value)),
            _ => None,
        })
        .collect())
}

/// TFRecord framing: u64 length, u32 masked CRC of it, data, u32 masked CRC of the data.
fn tfrecords(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 12 <= bytes.len() {
        let len = u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(bytes[i + 8..i + 12].try_into().unwrap());
        let end = i + 12 + len + 4;
        if crc != tensorboard_rs::masked_crc32c::masked_crc32c(&bytes[i..i + 8]) || end > bytes.len() {
            break;
        }
        out.push(&bytes[i + 12..i + 12 + len]);
        i = end;
    }
    out
}
