//! A run being trained: the loop over its iterations, and what each leaves on disk (scalars,
//! sample grids, judge scores, checkpoints) and on screen (progress with the schedule's ETA).

use crate::config::Config;
use crate::schedule::{critic_iters, Timing};
use crate::{checkpoint, run, RecentLosses, Trainer};
use anyhow::{Context, Result};
use eval::LoadedJudge;
use logging::{progress::Progress, tensorboard::EventWriter};
use rundir::{lock::Lock, tags};
use std::path::PathBuf;
use std::time::Instant;

/// How a session ended.
pub enum Outcome {
    /// All the run's iterations are done.
    Complete { run_dir: PathBuf, iterations: u64 },
    /// Stopped early (Ctrl-C, SIGTERM) after `done` iterations; the checkpoint written on the way
    /// out.
    Interrupted { done: u64, checkpoint: PathBuf },
}

pub struct TrainingSession {
    cfg: Config,
    run_dir: PathBuf,
    trainer: Trainer,
    judge: Option<LoadedJudge>,
    events: EventWriter,
    progress: Progress,
    timing: Timing,
    recent: RecentLosses,
    /// Iterations done, and the critic iterations among them.
    done: u64,
    critic_done: u64,
    _lock: Lock,
}

impl TrainingSession {
    /// The session that trains the run of `cfg`: a new run (no `record`) is created; an existing
    /// one is locked and continues from its newest checkpoint (or from the start, with its
    /// recorded settings, if it has none), and this session is added to its record.
    pub fn open(
        cfg: Config,
        record: Option<run::Record>,
        mut trainer: Trainer,
        judge: Option<LoadedJudge>,
    ) -> Result<TrainingSession> {
        let device = trainer.device;
        let judge_sha256 = judge.as_ref().map(|j| j.sha256.clone());
        let run_dir = cfg.run_dir();
        let Some(record) = record else {
            let lock = run::create(&cfg, run::session(0, device, judge_sha256))?;
            return TrainingSession::start(cfg, trainer, judge, lock, 0, RecentLosses::default());
        };
        let opened = run::open(&cfg, &record, judge_sha256.as_deref())?;
        let (done, recent) = match &opened.checkpoint {
            Some((done, dir)) => {
                let recent = checkpoint::load(&mut trainer, &run_dir, dir, *done)?;
                println!("resuming {} from {} ({done} iterations done)", run_dir.display(), dir.display());
                (*done, recent)
            }
            None => {
                println!(
                    "{} has no checkpoint yet: starting it from iteration 0 with its recorded settings",
                    run_dir.display()
                );
                (0, RecentLosses::default())
            }
        };
        run::add_session(record, &cfg, run::session(done, device, judge_sha256))?;
        TrainingSession::start(cfg, trainer, judge, opened.lock, done, recent)
    }

    /// Continues the run of `cfg` from `done` iterations (0 for a new run), with the recent losses
    /// its checkpoint recorded. Opens a new event file, which makes TensorBoard drop whatever an
    /// earlier process logged past `done`.
    fn start(
        cfg: Config,
        trainer: Trainer,
        judge: Option<LoadedJudge>,
        lock: Lock,
        done: u64,
        recent: RecentLosses,
    ) -> Result<TrainingSession> {
        let device = trainer.device;
        if device.is_cuda() {
            model::precision::configure_cuda(cfg.arithmetic.tf32);
        }
        if let Some(note) = cfg.arithmetic.precision.notice(device) {
            eprintln!("{note}");
        }
        let run_dir = cfg.run_dir();
        std::fs::create_dir_all(run_dir.join(rundir::SAMPLES_DIR))
            .with_context(|| format!("cannot create {}", run_dir.join(rundir::SAMPLES_DIR).display()))?;
        let mut events = EventWriter::open(&run_dir, done)?;
        if let Some(judge) = &judge {
            events.text(tags::JUDGE, &format!("judge SHA-256 {}", judge.sha256), done)?;
        }
        let e = &cfg.experiment;
        let critic_done = (0..done).map(|i| critic_iters(i, e.d_iters, e.boost_d_iters)).sum();
        Ok(TrainingSession {
            progress: Progress::new(done, cfg.cadence.iterations, "it"),
            timing: Timing::new(e.d_iters, e.boost_d_iters),
            cfg,
            run_dir,
            trainer,
            judge,
            events,
            recent,
            done,
            critic_done,
            _lock: lock,
        })
    }

    /// Trains until the run's last iteration, or until `interrupted()` says to stop (checked
    /// between iterations).
    pub fn run(mut self, interrupted: impl Fn() -> bool) -> Result<Outcome> {
        for it in self.done..self.cfg.cadence.iterations {
            if interrupted() {
                break;
            }
            let started = Instant::now();
            let losses = self.trainer.iteration(it).map_err(|e| self.stopped(e))?;
            self.recent.push(&losses);
            self.log(it, &losses)?;
            self.sample(it)?;
            self.evaluate(it)?;
            self.done = it + 1;
            self.critic_done += critic_iters(it, self.cfg.experiment.d_iters, self.cfg.experiment.boost_d_iters);
            self.checkpoint_when_due()?;
            self.timing.record(it, started.elapsed().as_secs_f64());
            self.show_progress();
        }
        self.finish()
    }

    /// The six losses and the D-loss composite, every `log_every` iterations.
    fn log(&mut self, it: u64, losses: &crate::Losses) -> Result<()> {
        if !it.is_multiple_of(self.cfg.cadence.log_every) {
            return Ok(());
        }
        for (tag, value) in tags::LOSS_TAGS.iter().zip(losses.values()) {
            self.events.scalar(tag, value as f32, it)?;
        }
        self.events.scalar(tags::D_LOSS, losses.d_loss() as f32, it)?;
        rundir::failpoint("logged");
        self.events.flush()
    }

    /// The sample grid, as a PNG and in TensorBoard, every `sample_every` iterations.
    fn sample(&mut self, it: u64) -> Result<()> {
        if !it.is_multiple_of(self.cfg.cadence.sample_every) {
            return Ok(());
        }
        let grid = self.trainer.sample_grid();
        logging::write_gray_png(&rundir::sample_grid_file(&self.run_dir, it), &grid.view())?;
        self.events.gray_image(tags::SAMPLES, &grid.view(), it)
    }

    /// The judge's scores, every `eval_every` iterations (with a judge). The same noise at every
    /// evaluation, so the curve compares like with like; drawing it does not disturb training,
    /// since every iteration reseeds.
    fn evaluate(&mut self, it: u64) -> Result<()> {
        let Some(judge) = self.judge.as_ref().filter(|_| it.is_multiple_of(self.cfg.cadence.eval_every)) else {
            return Ok(());
        };
        let (n, seed) = (self.cfg.cadence.eval_samples, self.cfg.experiment.seed as i64);
        let device = self.trainer.device;
        let (images, classes) = eval::generate_balanced(self.trainer.generator(), n, seed, device)?;
        let scores = eval::score_images(judge, &images, &classes)?;
        self.events.scalar(tags::CONDITIONAL_ACCURACY, scores.conditional_accuracy as f32, it)?;
        self.events.scalar(tags::FID, scores.fid as f32, it)?;
        self.events.flush()?; // at once, not with the next losses: TensorBoard shows each score as it lands
        self.progress.println(&format!(
            "eval at {it}: conditional accuracy {:.2}%, FID {:.3}",
            100.0 * scores.conditional_accuracy,
            scores.fid
        ));
        Ok(())
    }

    fn checkpoint_when_due(&mut self) -> Result<()> {
        if self.done.is_multiple_of(self.cfg.cadence.checkpoint_every) || self.done == self.cfg.cadence.iterations {
            self.checkpoint()?;
        }
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<PathBuf> {
        self.events.flush()?;
        checkpoint::save(&self.trainer, &self.run_dir, self.done, &self.recent, self.cfg.cadence.keep_every)
    }

    fn show_progress(&mut self) {
        let remaining = self.timing.remaining(self.done, self.cfg.cadence.iterations);
        let means = self.recent.means();
        let shown: Vec<String> = tags::LOSS_TAGS.iter().zip(means).map(|(t, m)| format!("{t} {m:.4}")).collect();
        let message = format!("{} | critic its {}", shown.join(" "), self.critic_done);
        self.progress.update(self.done, remaining.map(std::time::Duration::from_secs_f64), &message);
    }

    /// The error that stopped training, with the checkpoint it can continue from.
    fn stopped(&self, e: anyhow::Error) -> anyhow::Error {
        self.progress.finish();
        let last =
            rundir::checkpoint::list(&self.run_dir).ok().and_then(|l| l.last().map(|c| c.1.display().to_string()));
        e.context(format!(
            "stopped; the last good checkpoint is {}",
            last.unwrap_or_else(|| "none (none was written yet; --resume starts the run over)".into())
        ))
    }

    fn finish(mut self) -> Result<Outcome> {
        self.progress.finish();
        self.events.flush()?;
        if self.done < self.cfg.cadence.iterations {
            return Ok(Outcome::Interrupted { done: self.done, checkpoint: self.checkpoint()? });
        }
        Ok(Outcome::Complete { run_dir: self.run_dir, iterations: self.cfg.cadence.iterations })
    }
}
