//! The article's schedule of critic iterations, and what it costs: a boost iteration (100 critic
//! iterations) takes about ten times a normal one (5), so the time left is projected from the
//! number of each kind ahead, each at its own measured duration. `scripts/bench` projects the
//! whole schedule this way, and the progress display's ETA uses the same model.

/// Critic iterations for generator iteration `it`: the article's boosts at the start of every
/// thousand and at every 500th iteration, `d_iters` otherwise.
pub fn critic_iters(it: u64, d_iters: u64, boost_d_iters: u64) -> u64 {
    if is_boost(it) {
        boost_d_iters
    } else {
        d_iters
    }
}

pub fn is_boost(it: u64) -> bool {
    it % 1000 < 25 || it.is_multiple_of(500)
}

/// The boost and normal iterations in `from..to`, counted without walking them.
pub fn counts(from: u64, to: u64) -> (u64, u64) {
    let boosts_below = |n: u64| {
        // Per thousand: iterations 0..25 (which include the 500-multiple 0) and 500.
        let (thousands, rest) = (n / 1000, n % 1000);
        thousands * 26 + rest.min(25) + u64::from(rest > 500)
    };
    let to = to.max(from);
    let boost = boosts_below(to) - boosts_below(from);
    (boost, to - from - boost)
}

/// Seconds for iterations `from..to` at `boost` and `normal` seconds per iteration.
pub fn project(from: u64, to: u64, boost: f64, normal: f64) -> f64 {
    let (b, n) = counts(from, to);
    b as f64 * boost + n as f64 * normal
}

/// The generator step and the fakes' generation cost about as much as this many critic
/// iterations (measured: a boost iteration of the article's configuration takes 30 s and a normal
/// one 2.45 s on the reference CPU, so one critic iteration costs 0.29 s and the rest of an
/// iteration 1.0 s). Used only until both kinds of iteration have been timed.
const REST_IN_CRITIC_ITERS: f64 = 3.5;

/// Measured durations of the iterations of a run so far, by kind, for its ETA.
#[derive(Debug, Clone)]
pub struct Timing {
    d_iters: u64,
    boost_d_iters: u64,
    boost: (f64, u64),
    normal: (f64, u64),
}

impl Timing {
    pub fn new(d_iters: u64, boost_d_iters: u64) -> Timing {
        Timing { d_iters, boost_d_iters, boost: (0.0, 0), normal: (0.0, 0) }
    }

    /// Iteration `it` took `seconds`.
    pub fn record(&mut self, it: u64, seconds: f64) {
        let kind = if is_boost(it) { &mut self.boost } else { &mut self.normal };
        kind.0 += seconds;
        kind.1 += 1;
    }

    /// Seconds per (boost, normal) iteration: the means measured, one kind estimated from the
    /// other by its critic iterations until it has been measured; None before any.
    pub fn per_iteration(&self) -> Option<(f64, f64)> {
        let mean = |(sum, n): (f64, u64)| (n > 0).then(|| sum / n as f64);
        let weight = |k: u64| k as f64 + REST_IN_CRITIC_ITERS;
        let ratio = weight(self.boost_d_iters) / weight(self.d_iters);
        match (mean(self.boost), mean(self.normal)) {
            (Some(b), Some(n)) => Some((b, n)),
            (Some(b), None) => Some((b, b / ratio)),
            (None, Some(n)) => Some((n * ratio, n)),
            (None, None) => None,
        }
    }

    /// Seconds left for iterations `from..to`.
    pub fn remaining(&self, from: u64, to: u64) -> Option<f64> {
        self.per_iteration().map(|(b, n)| project(from, to, b, n))
    }
}
