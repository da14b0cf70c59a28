//! Progress over a long loop: an indicatif bar on a terminal, plain periodic lines otherwise
//! (logs, CI, `nohup`), each with rate and ETA.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

const PLAIN_EVERY: Duration = Duration::from_secs(30);

pub struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    start_pos: u64,
    started: Instant,
    last_line: Option<Instant>,
}

impl Progress {
    /// Progress from `start` (a resumed run) to `total` units.
    pub fn new(start: u64, total: u64, unit: &str) -> Progress {
        let bar = std::io::stdout().is_terminal().then(|| {
            let style =
                format!("{{bar:30}} {{pos}}/{{len}} {unit} [{{elapsed_precise}}<{{eta_precise}}, {{per_sec}}] {{msg}}");
            let bar = ProgressBar::new(total).with_style(ProgressStyle::with_template(&style).unwrap());
            bar.set_position(start);
            bar.reset_eta();
            bar
        });
        Progress { bar, total, start_pos: start, started: Instant::now(), last_line: None }
    }

    /// `done` units are complete; `message` is shown beside the bar (or in the periodic line).
    pub fn update(&mut self, done: u64, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(message.to_string());
            return;
        }
        let due = self.last_line.is_none_or(|t| t.elapsed() >= PLAIN_EVERY) || done == self.total;
        if due {
            self.last_line = Some(Instant::now());
            println!("{} | {message}", self.position_line(done));
        }
    }

    fn position_line(&self, done: u64) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = (done - self.start_pos) as f64 / secs.max(1e-9);
        let eta = if rate > 0.0 { format_secs((self.total - done) as f64 / rate) } else { "?".into() };
        format!(
            "{done}/{} ({:.1}%) {:.3}/s ETA {eta}",
            self.total,
            100.0 * done as f64 / self.total.max(1) as f64,
            rate
        )
    }

    /// A line that does not tear the bar.
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.abandon();
        }
    }
}

fn format_secs(s: f64) -> String {
    let s = s.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}
