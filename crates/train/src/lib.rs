//! The seed's WGAN-ACGAN training (SPEC "One generator iteration"), checkpoints and logging.

pub mod config;
pub mod grid;
pub mod losses;
pub mod rmsprop;
pub mod run;
pub mod sweep;

use anyhow::{bail, Result};
use config::Config;
use data::{BatchSampler, Dataset};
use model::{Critic, Generator};
use rmsprop::RmsProp;
use std::collections::VecDeque;
use tch::{nn, Device, Tensor};

/// The TensorBoard tags of SPEC "What gets logged", in the order of `Losses::values`.
pub const LOSS_TAGS: [&str; 6] =
    ["D_real_is_fake", "D_real_class", "D_fake_is_fake", "D_fake_class", "DG_is_fake", "DG_class"];
pub const D_LOSS_TAG: &str = "D loss (-1*D_real_is_fake - D_fake_is_fake)";
/// How many recent values the progress display averages (as the seed's progress bar).
pub const WINDOW: usize = 5;

/// Critic iterations for generator iteration `it`: the seed's boosts at the start of every
/// thousand and at every 500th iteration, `d_iters` otherwise.
pub fn critic_iters(it: u64, d_iters: u64, boost_d_iters: u64) -> u64 {
    if it % 1000 < 25 || it % 500 == 0 {
        boost_d_iters
    } else {
        d_iters
    }
}

/// Memory a run of `cfg` needs on its device, roughly (in bytes), so that impossible sizes are
/// refused before anything is allocated: the 70,000 training images; both networks' parameters
/// with gradients and RMSprop state; one critic loop's real and fake batches; the activations of
/// the generator step (G and D with autograd, ~6 MB an image) and of the no-autograd fake
/// generation (chunks of 500, ~1 MB an image); libtorch itself. At the seed configuration it says
/// 1.4 GB, and 1.5 GB of peak RSS is measured: a guard against absurd sizes, not a budget.
pub fn memory_needed(cfg: &Config) -> f64 {
    const IMAGE: f64 = 28.0 * 28.0 * 4.0;
    let (z, b) = (cfg.z_size as f64, cfg.batch_size as f64);
    let generator = 10.0 * z + 1024.0 * z + 1024.0 + 1024.0 * 6272.0 + 6272.0 + 819_456.0 + 819_328.0 + 513.0;
    let copies = if cfg.as_published { 5.0 } else { 4.0 }; // parameter, gradient, accumulator(s), cast
    let parameters = (generator + 525_835.0) * 4.0 * copies;
    let critic_loop = cfg.d_iters.max(cfg.boost_d_iters) as f64 * b * IMAGE * 2.0;
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
    /// The six logged values: the last critic iteration's four, then the generator step's two.
    pub fn values(&self) -> [f64; 6] {
        let c = self.critic.last().unwrap();
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
}

/// Both networks, their optimizers and the data: everything one iteration touches.
pub struct Trainer {
    pub cfg: Config,
    pub device: Device,
    pub vs_g: nn::VarStore,
    pub vs_d: nn::VarStore,
    pub generator: Generator,
    pub critic: Critic,
    pub opt_g: RmsProp,
    pub opt_d: RmsProp,
    /// `--as-published` only: the generator step's own RMSprop state for the critic's parameters
    /// (the seed's combined model, compiled while D was trainable, also trained D).
    pub opt_dg_critic: Option<RmsProp>,
    pub data: Dataset,
    /// Sees every step's class logits and target classes (for measurements such as
    /// `benches/class_loss_gap.rs`); training does not use it.
    pub observer: Option<Box<dyn FnMut(&Tensor, &Tensor)>>,
}

impl Trainer {
    /// Fresh networks, initialised from `cfg.seed`.
    pub fn new(cfg: &Config, data: Dataset, device: Device) -> Trainer {
        tch::manual_seed(cfg.seed as i64);
        let vs_g = nn::VarStore::new(device);
        let generator = Generator::new(&vs_g, cfg.z_size, cfg.upsample, cfg.precision);
        let vs_d = nn::VarStore::new(device);
        let critic = Critic::new(&vs_d, cfg.precision);
        let (opt_g, opt_d) = (RmsProp::new(&vs_g, cfg.lr), RmsProp::new(&vs_d, cfg.lr));
        let opt_dg_critic = cfg.as_published.then(|| RmsProp::new(&vs_d, cfg.lr));
        Trainer {
            cfg: cfg.clone(),
            device,
            vs_g,
            vs_d,
            generator,
            critic,
            opt_g,
            opt_d,
            opt_dg_critic,
            data,
            observer: None,
        }
    }

    /// Clips every critic parameter, weights and biases of both heads, to [-clip, clip].
    pub fn clip_critic(&self) {
        let _guard = tch::no_grad_guard();
        for p in self.opt_d.params() {
            let _ = p.shallow_clone().clamp_(-self.cfg.clip, self.cfg.clip);
        }
    }

    /// The critic's two losses on a batch it should call `sign` (-1 real, +1 fake): Keras's
    /// `mean(y_true * is_fake)` with y_true = sign, and the class cross-entropy (Keras's own
    /// clipped form when training as published).
    fn critic_losses(&mut self, x: &Tensor, classes: &Tensor, sign: f64) -> (Tensor, Tensor) {
        let (is_fake, class_logits) = self.critic.forward(x, true);
        if let Some(observe) = self.observer.as_mut() {
            observe(&class_logits.detach(), classes);
        }
        let class = losses::class_loss(&class_logits, classes, self.cfg.as_published);
        ((is_fake * sign).mean(tch::Kind::Float), class)
    }

    /// One RMSprop step of the critic on a batch it should call `sign` (-1 real, +1 fake);
    /// returns the step's two losses.
    pub fn critic_step(&mut self, x: &Tensor, classes: &Tensor, sign: f64) -> (Tensor, Tensor) {
        let (is_fake, class) = self.critic_losses(x, classes, sign);
        self.opt_d.minimize(&(&is_fake + &class));
        (is_fake, class)
    }

    /// The generator step on fresh noise: D's dropout stays active, and only G's parameters get
    /// gradients; as published, D's get them too, and D steps with the generator step's own
    /// RMSprop state. Returns `DG_is_fake`, `DG_class`.
    pub fn generator_step(&mut self) -> (Tensor, Tensor) {
        let (z, classes) = model::noise(self.cfg.batch_size, self.cfg.z_size, self.device);
        let images = self.generator.forward(&z, &classes);
        let (dg_is_fake, dg_class) = self.critic_losses(&images, &classes, -1.0);
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
        let (z, classes) = model::noise(n, self.cfg.z_size, self.device);
        (self.generator.generate(&z, &classes), classes)
    }

    /// Generator iteration `it` (0-based): the critic loop, then one generator step.
    pub fn iteration(&mut self, it: u64) -> Result<Losses> {
        let b = self.cfg.batch_size;
        tch::manual_seed(iteration_seed(self.cfg.seed, it));
        let critic_iters = critic_iters(it, self.cfg.d_iters, self.cfg.boost_d_iters);
        let mut sampler = BatchSampler::new(self.cfg.seed, it, self.data.len(), b as usize);
        let (real_x, real_y) = self.data.gather(&sampler.batches(critic_iters as usize, self.device));
        let (fake_x, fake_y) = self.fakes(critic_iters as i64 * b);
        let mut recent = Vec::new();
        for k in 0..critic_iters as i64 {
            self.clip_critic();
            let (real_is_fake, real_class) = self.critic_step(&real_x.get(k), &real_y.get(k), -1.0);
            let (fx, fy) = (fake_x.narrow(0, k * b, b), fake_y.narrow(0, k * b, b));
            let (fake_is_fake, fake_class) = self.critic_step(&fx, &fy, 1.0);
            if k >= critic_iters as i64 - WINDOW as i64 {
                recent.push(Tensor::stack(&[real_is_fake, real_class, fake_is_fake, fake_class], 0).detach());
            }
        }
        let (dg_is_fake, dg_class) = self.generator_step();
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

    /// The sample grid of SPEC "What gets logged": row r is class r, column j uses the j-th of
    /// ten noise vectors, fixed for the run (drawn from the seed) so grids compare across time.
    pub fn sample_grid(&self) -> ndarray::Array2<u8> {
        tch::manual_seed(iteration_seed(self.cfg.seed, u64::MAX));
        let z = Tensor::randn([10, self.cfg.z_size], (tch::Kind::Float, self.device)).repeat([10, 1]);
        let classes = Tensor::arange(10, (tch::Kind::Int64, self.device)).repeat_interleave_self_int(10, 0, None);
        let _guard = tch::no_grad_guard();
        grid::tile(&self.generator.forward(&z, &classes), 10, 10)
    }
}
