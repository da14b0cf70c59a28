//! TensorBoard event files, written with tensorboard-rs's record framing and summary builders.
//! Its `FileWriter` is not used: it panics on any I/O error, only flushes when dropped, and names
//! files by the current second, so a file dated in the future (clock skew) or a second writer in
//! the same second would sort wrongly. Here each file is named after the newest one already in
//! the directory, writes report their errors, and `flush` makes the data visible to TensorBoard.

use anyhow::{ensure, Context, Result};
use ndarray::ArrayView2;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use tensorboard_proto::event::{Event, SessionLog, SessionLog_SessionStatus};
use tensorboard_proto::summary::{Summary, SummaryMetadata, SummaryMetadata_PluginData, Summary_Value};
use tensorboard_proto::tensor::TensorProto;
use tensorboard_proto::types::DataType;
use tensorboard_rs::record_writer::RecordWriter;

const PREFIX: &str = "events.out.tfevents.";
/// The largest event this project writes is a sample grid of a few hundred kilobytes.
const MAX_RECORD_BYTES: u64 = 64 << 20;

pub struct EventWriter {
    records: RecordWriter<BufWriter<File>>,
    path: PathBuf,
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// The largest creation second among the event files in `dir` (None when there are none).
fn newest_event_second(dir: &Path) -> Option<u64> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_prefix(PREFIX)?.split('.').next()?.parse().ok())
        .max()
}

impl EventWriter {
    /// Opens a new event file in `dir` (created if needed). `start_step`: TensorBoard drops the
    /// events of earlier files at steps >= it, so a resumed run replaces what it repeats.
    /// The file's name sorts after every event file already there, as TensorBoard reads them in
    /// name order: it carries the current second, or the newest file's second + 1 if that is
    /// later (a second writer in the same second, or a clock that went back).
    pub fn open(dir: &Path, start_step: u64) -> Result<EventWriter> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let second = (now() as u64).max(newest_event_second(dir).map_or(0, |s| s + 1));
        let host = gethostname::gethostname().to_string_lossy().replace(['/', '.'], "_");
        let path = dir.join(format!("{PREFIX}{second:010}.{host}.{}.0", std::process::id()));
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("cannot create the event file {}", path.display()))?;
        let mut writer = EventWriter { records: RecordWriter::new(BufWriter::new(file)), path };
        let mut version = Event::new();
        version.set_file_version("brain.Event:2".into());
        writer.write(version, 0)?;
        let mut start = Event::new();
        let mut log = SessionLog::new();
        log.set_status(SessionLog_SessionStatus::START);
        start.set_session_log(log);
        writer.write(start, start_step)?;
        writer.flush()?;
        Ok(writer)
    }

    fn write(&mut self, mut event: Event, step: u64) -> Result<()> {
        event.set_wall_time(now());
        event.set_step(step as i64);
        let bytes = protobuf::Message::write_to_bytes(&event)?;
        self.records.write(&bytes).with_context(|| format!("cannot write to {}", self.path.display()))
    }

    fn summary(&mut self, summary: Summary, step: u64) -> Result<()> {
        let mut event = Event::new();
        event.set_summary(summary);
        self.write(event, step)
    }

    pub fn scalar(&mut self, tag: &str, value: f32, step: u64) -> Result<()> {
        self.summary(tensorboard_rs::summary::scalar(tag, value), step)
    }

    /// A grayscale image `[height, width]`. (tensorboard-rs wants interleaved RGB with dims
    /// `[3, W, H]`, so gray is repeated into three channels.)
    pub fn gray_image(&mut self, tag: &str, image: &ArrayView2<u8>, step: u64) -> Result<()> {
        let (height, width) = image.dim();
        ensure!(height > 0 && width > 0, "image {tag}: empty {height}x{width}");
        let rgb: Vec<u8> = image.iter().flat_map(|&p| [p, p, p]).collect();
        self.summary(tensorboard_rs::summary::image(tag, &rgb, &[3, width, height]), step)
    }

    /// A text (TensorBoard's Text tab): a string tensor under the "text" plugin.
    pub fn text(&mut self, tag: &str, text: &str, step: u64) -> Result<()> {
        let mut tensor = TensorProto::new();
        tensor.set_dtype(DataType::DT_STRING);
        tensor.mut_string_val().push(text.as_bytes().to_vec());
        let mut plugin = SummaryMetadata_PluginData::new();
        plugin.set_plugin_name("text".into());
        let mut metadata = SummaryMetadata::new();
        metadata.set_plugin_data(plugin);
        let mut value = Summary_Value::new();
        value.set_tag(tag.into());
        value.set_metadata(metadata);
        value.set_tensor(tensor);
        let mut summary = Summary::new();
        summary.mut_value().push(value);
        self.summary(summary, step)
    }

    /// Makes everything written so far visible to readers.
    pub fn flush(&mut self) -> Result<()> {
        self.records.flush().with_context(|| format!("cannot write to {}", self.path.display()))
    }
}

/// What a reader finds in a directory's event files.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Scalar { tag: String, step: u64, value: f32 },
    Image { tag: String, step: u64, png: Vec<u8> },
    Text { tag: String, step: u64, text: String },
}

impl Record {
    fn step(&self) -> u64 {
        match self {
            Record::Scalar { step, .. } | Record::Image { step, .. } | Record::Text { step, .. } => *step,
        }
    }
}

/// Reads all event files of `dir` in TensorBoard's order (by file name), applying its rule that a
/// session START at step S drops earlier events at steps >= S. A record cut short at the end of a
/// file (a killed writer) ends that file quietly, as in TensorBoard; damage (a checksum that does
/// not match, an undecodable event) is an error naming the file and the byte offset.
pub fn read_dir(dir: &Path) -> Result<Vec<Record>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(PREFIX)) && p.is_file())
        .collect();
    files.sort();
    let mut records: Vec<Record> = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
        for (offset, payload) in tfrecords(&file, &bytes)? {
            let event: Event = protobuf::Message::parse_from_bytes(payload)
                .with_context(|| format!("{}: damaged event at byte {offset} (it does not decode)", file.display()))?;
            let step = u64::try_from(event.get_step()).with_context(|| {
                format!("{}: damaged event at byte {offset} (step {})", file.display(), event.get_step())
            })?;
            if event.has_session_log() && event.get_session_log().get_status() == SessionLog_SessionStatus::START {
                records.retain(|r| r.step() < step);
            }
            for v in event.get_summary().get_value() {
                let tag = v.get_tag().to_string();
                if v.has_image() {
                    records.push(Record::Image { tag, step, png: v.get_image().get_encoded_image_string().to_vec() });
                } else if v.has_tensor() {
                    let text = v.get_tensor().get_string_val().first().map(|b| String::from_utf8_lossy(b).into_owned());
                    records.push(Record::Text { tag, step, text: text.unwrap_or_default() });
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

/// TFRecord framing: u64 length, u32 masked CRC of it, data, u32 masked CRC of the data. Returns
/// each record's byte offset and data. Both checksums are checked; a record whose length runs
/// past the end of the file is a writer's last, cut short, and ends the file.
fn tfrecords<'a>(file: &Path, bytes: &'a [u8]) -> Result<Vec<(usize, &'a [u8])>> {
    let crc = tensorboard_rs::masked_crc32c::masked_crc32c;
    let word = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(header) = bytes.get(i..i + 12) {
        let damaged = |what: &str| anyhow::anyhow!("{}: damaged record at byte {i} ({what})", file.display());
        if word(&header[8..12]) != crc(&header[..8]) {
            return Err(damaged("its length's checksum does not match"));
        }
        let len = u64::from_le_bytes(header[..8].try_into().expect("8 bytes"));
        let end = usize::try_from(len).ok().filter(|_| len <= MAX_RECORD_BYTES).map(|l| i + 12 + l + 4);
        let Some(end) = end else {
            return Err(damaged(&format!("a length of {len} bytes, more than any event holds")));
        };
        let Some(record) = bytes.get(i..end) else { break };
        let data = &record[12..record.len() - 4];
        if word(&record[record.len() - 4..]) != crc(data) {
            return Err(damaged("its data's checksum does not match"));
        }
        out.push((i, data));
        i = end;
    }
    Ok(out)
}
