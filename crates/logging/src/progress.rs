//! Progress over a long loop: an indicatif bar on a terminal, plain periodic lines otherwise
//! (logs, CI, `nohup`), each with rate and ETA. The ETA is the caller's when it knows better than
//! a constant rate (a schedule whose steps differ in cost), else the remaining units at the mean
//! rate so far.

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
            let style = format!("{{bar:30}} {{pos}}/{{len}} {unit} [{{elapsed_precise}}, {{per_sec}}] {{msg}}");
            let bar = ProgressBar::new(total).with_style(ProgressStyle::with_template(&style).unwrap());
            bar.set_position(start);
            bar.reset_eta();
            bar
        });
        Progress { bar, total, start_pos: start, started: Instant::now(), last_line: None }
    }

    /// `done` units are complete, `remaining` is the caller's estimate of the time left (None:
    /// from the mean rate); `message` is shown beside the bar (or in the periodic line).
    pub fn update(&mut self, done: u64, remaining: Option<Duration>, message: &str) {
        let eta = self.eta(done, remaining);
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(format!("ETA {eta} | {message}"));
            return;
        }
        let due = self.last_line.is_none_or(|t| t.elapsed() >= PLAIN_EVERY) || done == self.total;
        if due {
            self.last_line = Some(Instant::now());
            let secs = self.started.elapsed().as_secs_f64();
            let rate = done.saturating_sub(self.start_pos) as f64 / secs.max(1e-9);
            let percent = 100.0 * done as f64 / self.total.max(1) as f64;
            println!("{done}/{} ({percent:.1}%) {rate:.3}/s ETA {eta} | {message}", self.total);
        }
    }

    fn eta(&self, done: u64, remaining: Option<Duration>) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = done.saturating_sub(self.start_pos) as f64 / secs.max(1e-9);
        match remaining {
            Some(left) => format_secs(left.as_secs_f64()),
            None if rate > 0.0 => format_secs(self.total.saturating_sub(done) as f64 / rate),
            None => "?".into(),
        }
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
