//! The article's WGAN-ACGAN training (docs/SPEC.md "One generator iteration"): the `Trainer`
//! holds both networks and their optimizers and runs one generator iteration at a time; `session`
//! drives a run on disk through its iterations.

pub mod checkpoint;
pub mod config;
pub mod grid;
pub mod losses;
pub mod rmsprop;
pub mod run;
pub mod schedule;
pub mod session;

use anyhow::{bail, Result};
use config::{Arithmetic, Config, Experiment};
use data::{BatchSampler, Dataset};
use model::{Critic, Generator};
use rmsprop::RmsProp;
use rundir::tags::LOSS_TAGS;
use std::collections::VecDeque;
use tch::{nn, Device, Tensor};

pub use schedule::critic_iters;

/// How many recent values the progress display averages (as the article's progress bar).
pub const WINDOW: usize = 5;

/// Memory a run of `cfg` needs on its device, roughly (in bytes), so that impossible sizes are
/// refused before anything is allocated: the 70,000 training images; both networks' parameters
/// with gradients and RMSprop state; one critic loop's real and fake batches; the activations of
/// the generator step (G and D with autograd, ~6 MB an image) and of the no-autograd fake
/// generation (chunks of 500, ~1 MB an image); libtorch itself. At the article's configuration it
/// says 1.4 GB, and 1.5 GB of peak RSS is measured: a guard against absurd sizes, not a budget.
pub fn memory_needed(cfg: &Config) -> f64 {
    const IMAGE: f64 = 28.0 * 28.0 * 4.0;
    let e = &cfg.experiment;
    let b = e.batch_size as f64;
    let copies = if e.as_published { 5.0 } else { 4.0 }; // parameter, gradient, accumulator(s), cast
    let parameters = (Generator::parameter_count(e.z_size) + Critic::parameter_count()) as f64 * 4.0 * copies;
    let critic_loop = e.d_iters.max(e.boost_d_iters) as f64 * b * IMAGE * 2.0;
    70_000.0 * IMAGE + parameters + critic_loop + b * 6e6 + b.min(500.0) * 1e6 + 300e6
}

/// The seed of libtorch's generator for iteration `it` (splitmix64 of seed and iteration).
/// Every iteration reseeds, so its random numbers depend only on (seed, it): a resumed run draws
/// exactly what the uninterrupted one would, with no RNG state to save.
pub fn iteration_seed(seed: u64, it: u64) -> i64 {
    let mut x = seed ^ it.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (x ^ (x >> 31)) as i64
}

/// Losses of one generator iteration: those of its last `WINDOW` critic iterations (oldest
/// first; each `[real_is_fake, real_class, fake_is_fake, fake_class]`) and of its generator step.
#[derive(Debug, Clone, PartialEq)]
pub struct Losses {
    pub critic: Vec<[f64; 4]>,
    pub generator: [f64; 2],
}

impl Losses {
    /// The six logged values (`LOSS_TAGS` order): the last critic iteration's four, then the
    /// generator step's two.
    pub fn values(&self) -> [f64; 6] {
        let c = self.critic.last().expect("an iteration has at least one critic iteration");
        [c[0], c[1], c[2], c[3], self.generator[0], self.generator[1]]
    }

    /// -D_real_is_fake - D_fake_is_fake: mean D(real) - mean D(fake), the Wasserstein estimate.
    pub fn d_loss(&self) -> f64 {
        let v = self.values();
        -v[0] - v[2]
    }
}

/// Recent values for the progress display: the mean of the `WINDOW` most recent of each loss.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecentLosses {
    pub critic: VecDeque<[f64; 4]>,
    pub generator: VecDeque<[f64; 2]>,
}

impl RecentLosses {
    pub fn push(&mut self, losses: &Losses) {
        for c in &losses.critic {
            self.critic.push_back(*c);
        }
        self.generator.push_back(losses.generator);
        while self.critic.len() > WINDOW {
            self.critic.pop_front();
        }
        while self.generator.len() > WINDOW {
            self.generator.pop_front();
        }
    }

    pub fn means(&self) -> [f64; 6] {
        let mean = |f: &dyn Fn(usize) -> f64, n: usize| (0..n).map(f).sum::<f64>() / n.max(1) as f64;
        let (c, g) = (&self.critic, &self.generator);
        std::array::from_fn(|k| if k < 4 { mean(&|i| c[i][k], c.len()) } else { mean(&|i| g[i][k - 4], g.len()) })
    }

    /// Whether every value is finite and the windows are no longer than `WINDOW` (a checkpoint's
    /// recorded values).
    pub fn is_sane(&self) -> bool {
        self.critic.len() <= WINDOW
            && self.generator.len() <= WINDOW
            && self.critic.iter().flatten().chain(self.generator.iter().flatten()).all(|v| v.is_finite())
    }
}

/// Sees the class logits and target classes of every critic and generator step (measurements
/// such as `benches/class_loss_gap.rs`; training passes one that does nothing).
pub type Observer<'a> = &'a mut dyn FnMut(&Tensor, &Tensor);

/// Both networks, their optimizers and the data: everything one iteration touches.
pub struct Trainer {
    experiment: Experiment,
    device: Device,
    vs_g: nn::VarStore,
    vs_d: nn::VarStore,
    generator: Generator,
    critic: Critic,
    opt_g: RmsProp,
    opt_d: RmsProp,
    /// `--as-published` only: the generator step's own RMSprop state for the critic's parameters
    /// (the article's combined model, compiled while D was trainable, also trained D).
    opt_dg_critic: Option<RmsProp>,
    data: Dataset,
}

impl Trainer {
    /// Fresh networks, initialised from the experiment's seed.
    pub fn new(experiment: &Experiment, arithmetic: &Arithmetic, data: Dataset, device: Device) -> Trainer {
        tch::manual_seed(experiment.seed as i64);
        let vs_g = nn::VarStore::new(device);
        let generator = Generator::new(&vs_g, experiment.z_size, arithmetic.upsample, arithmetic.precision);
        let vs_d = nn::VarStore::new(device);
        let critic = Critic::new(&vs_d, arithmetic.precision);
        let (opt_g, opt_d) = (RmsProp::new(&vs_g, experiment.lr), RmsProp::new(&vs_d, experiment.lr));
        let opt_dg_critic = experiment.as_published.then(|| RmsProp::new(&vs_d, experiment.lr));
        Trainer {
            experiment: experiment.clone(),
            device,
            vs_g,
            vs_d,
            generator,
            critic,
            opt_g,
            opt_d,
            opt_dg_critic,
            data,
        }
    }

    pub fn experiment(&self) -> &Experiment {
        &self.experiment
    }

    pub fn generator(&self) -> &Generator {
        &self.generator
    }

    pub fn critic(&self) -> &Critic {
        &self.critic
    }

    /// The generator's parameters, by name.
    pub fn generator_store(&self) -> &nn::VarStore {
        &self.vs_g
    }

    /// The critic's parameters, by name.
    pub fn critic_store(&self) -> &nn::VarStore {
        &self.vs_d
    }

    /// The optimizers: the generator's, the critic's, and as published the generator step's own
    /// state for the critic.
    pub fn optimizers(&self) -> (&RmsProp, &RmsProp, Option<&RmsProp>) {
        (&self.opt_g, &self.opt_d, self.opt_dg_critic.as_ref())
    }

    /// Clips every critic parameter, weights and biases of both heads, to [-clip, clip].
    pub fn clip_critic(&self) {
        let _guard = tch::no_grad_guard();
        for p in self.opt_d.params() {
            let _ = p.shallow_clone().clamp_(-self.experiment.clip, self.experiment.clip);
        }
    }

    /// The critic's two losses on a batch it should call `sign` (-1 real, +1 fake): Keras's
    /// `mean(y_true * is_fake)` with y_true = sign, and the class cross-entropy (Keras's own
    /// clipped form when training as published).
    fn critic_losses(&self, x: &Tensor, classes: &Tensor, sign: f64, observe: Observer) -> (Tensor, Tensor) {
        let (is_fake, class_logits) = self.critic.forward(x, true);
        observe(&class_logits.detach(), classes);
        let class = losses::class_loss(&class_logits, classes, self.experiment.as_published);
        ((is_fake * sign).mean(tch::Kind::Float), class)
    }

    /// One RMSprop step of the critic on a batch it should call `sign` (-1 real, +1 fake);
    /// returns the step's two losses.
    pub fn critic_step(&mut self, x: &Tensor, classes: &Tensor, sign: f64, observe: Observer) -> (Tensor, Tensor) {
        let (is_fake, class) = self.critic_losses(x, classes, sign, observe);
        self.opt_d.minimize(&(&is_fake + &class));
        (is_fake, class)
    }

    /// The generator step on fresh noise: D's dropout stays active, and only G's parameters get
    /// gradients; as published, D's get them too, and D steps with the generator step's own
    /// RMSprop state. Returns `DG_is_fake`, `DG_class`.
    pub fn generator_step(&mut self, observe: Observer) -> (Tensor, Tensor) {
        let (z, classes) = model::noise(self.experiment.batch_size, self.experiment.z_size, self.device);
        let images = self.generator.forward(&z, &classes);
        let (dg_is_fake, dg_class) = self.critic_losses(&images, &classes, -1.0, observe);
        let dg_loss = &dg_is_fake + &dg_class;
        match &mut self.opt_dg_critic {
            None => self.opt_g.minimize(&dg_loss),
            Some(opt_dg_critic) => rmsprop::minimize_jointly(&dg_loss, &mut [&mut self.opt_g, opt_dg_critic]),
        }
        (dg_is_fake, dg_class)
    }

    /// `n` fake images from fresh noise: G is constant during the critic loop, so generating
    /// all its fake batches up front computes the same images, in few large calls.
    fn fakes(&self, n: i64) -> (Tensor, Tensor) {
        let (z, classes) = model::noise(n, self.experiment.z_size, self.device);
        (self.generator.generate(&z, &classes), classes)
    }

    /// Generator iteration `it` (0-based): the critic loop, then one generator step.
    pub fn iteration(&mut self, it: u64) -> Result<Losses> {
        self.iteration_observed(it, &mut |_, _| {})
    }

    /// `iteration`, showing `observe` the class logits of every step.
    pub fn iteration_observed(&mut self, it: u64, observe: Observer) -> Result<Losses> {
        let e = &self.experiment;
        let b = e.batch_size;
        tch::manual_seed(iteration_seed(e.seed, it));
        let critic_iters = critic_iters(it, e.d_iters, e.boost_d_iters);
        let mut sampler = BatchSampler::new(e.seed, it, self.data.len(), b as usize);
        let (real_x, real_y) = self.data.gather(&sampler.batches(critic_iters as usize, self.device));
        let (fake_x, fake_y) = self.fakes(critic_iters as i64 * b);
        let mut recent = Vec::new();
        for k in 0..critic_iters as i64 {
            self.clip_critic();
            let (real_is_fake, real_class) = self.critic_step(&real_x.get(k), &real_y.get(k), -1.0, observe);
            let (fx, fy) = (fake_x.narrow(0, k * b, b), fake_y.narrow(0, k * b, b));
            let (fake_is_fake, fake_class) = self.critic_step(&fx, &fy, 1.0, observe);
            if k >= critic_iters as i64 - WINDOW as i64 {
                recent.push(Tensor::stack(&[real_is_fake, real_class, fake_is_fake, fake_class], 0).detach());
            }
        }
        let (dg_is_fake, dg_class) = self.generator_step(observe);
        // One device-to-host copy per iteration for all the logged values.
        let generator_losses = Tensor::stack(&[dg_is_fake, dg_class], 0).detach();
        let all = Tensor::cat(&[Tensor::stack(&recent, 0).flatten(0, -1), generator_losses], 0);
        let values = Vec::<f64>::try_from(all.to_device(Device::Cpu).to_kind(tch::Kind::Double))?;
        let (critic, generator) = values.split_at(values.len() - 2);
        let losses = Losses {
            critic: critic.chunks(4).map(|r| [r[0], r[1], r[2], r[3]]).collect(),
            generator: [generator[0], generator[1]],
        };
        if let Some((tag, v)) = LOSS_TAGS.iter().zip(losses.values()).find(|(_, v)| !v.is_finite()) {
            bail!("loss {tag} is {v} at iteration {it}: training diverged");
        }
        Ok(losses)
    }

    /// The sample grid of docs/SPEC.md "What gets logged": row r is class r, column j uses the j-th of
    /// ten noise vectors, fixed for the run (drawn from the seed) so grids compare across time.
    pub fn sample_grid(&self) -> ndarray::Array2<u8> {
        tch::manual_seed(iteration_seed(self.experiment.seed, u64::MAX));
        let z = Tensor::randn([10, self.experiment.z_size], (tch::Kind::Float, self.device)).repeat([10, 1]);
        let classes = Tensor::arange(10, (tch::Kind::Int64, self.device)).repeat_interleave_self_int(10, 0, None);
        let _guard = tch::no_grad_guard();
        grid::tile(&self.generator.forward(&z, &classes), 10, 10)
    }
}
