//! Seeded initialisation is bit-exact. Its own test binary: libtorch's CPU generator is global to
//! the process, and tests on other threads drawing from it would interleave with this one.

use model::{Critic, Generator, Upsample};
use tch::{nn, Device};

#[test]
fn same_seed_same_initial_weights() {
    let weights = |seed| {
        tch::manual_seed(seed);
        let vs = nn::VarStore::new(Device::Cpu);
        Generator::new(&vs, model::Z_SIZE, Upsample::SubPixel, model::Precision::Fp32);
        let vs_d = nn::VarStore::new(Device::Cpu);
        Critic::new(&vs_d, model::Precision::Fp32);
        (
            vs.variables()["generator.conv_2.weight"].copy(),
            vs.variables()["generator.embedding.weight"].copy(),
            vs_d.variables()["critic.output_class.weight"].copy(),
        )
    };
    let (a, b) = (weights(777), weights(777));
    assert!(a.0.equal(&b.0) && a.1.equal(&b.1) && a.2.equal(&b.2));
    assert!(!a.0.equal(&weights(778).0));
}
