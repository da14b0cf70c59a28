//! `summary`: the two networks layer by layer, like Keras's `model.summary()`.

use clap::Parser;
use cli::DeviceArgs;
use model::{stored_parameter_count as parameter_count, Critic, Generator, Precision, Upsample};
use tch::{nn, Kind, Tensor};

/// Print each network of the article's WGAN-ACGAN layer by layer: output shapes and parameter
/// counts, with the totals.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    device: DeviceArgs,
}

/// Prints one network's table; `forward` runs it once on a batch of one, tracing each layer.
fn print_table(title: &str, vs: &nn::VarStore, prefix: &str, forward: impl FnOnce(model::Trace)) {
    let mut rows = Vec::new();
    forward(&mut |name, out| rows.push((name.to_string(), out.size())));
    println!("{title}\n{:<20} {:<22} {:>12}\n{}", "Layer", "Output shape", "Param #", "=".repeat(56));
    for (name, shape) in rows {
        let params = parameter_count(vs, &format!("{prefix}.{name}."));
        let dims: Vec<String> = shape[1..].iter().map(|d| d.to_string()).collect();
        let shape = format!("(None, {})", dims.join(", "));
        println!("{name:<20} {shape:<22} {params:>12}");
    }
    println!("{}\nTotal params: {}\n", "=".repeat(56), cli::thousands(parameter_count(vs, prefix) as u64));
}

fn main() {
    let cli = Cli::parse();
    cli::main(|| summary(cli))
}

fn summary(cli: Cli) -> anyhow::Result<()> {
    let device = cli.device.device()?;
    println!("device: {device:?}\n");
    let _no_grad = tch::no_grad_guard();
    let vs = nn::VarStore::new(device);
    let critic = Critic::new(&vs, Precision::Fp32);
    print_table("Critic D", &vs, "critic", |trace| {
        let _ = critic.forward_traced(&Tensor::zeros([1, 1, 28, 28], (Kind::Float, device)), false, trace);
    });
    let vs = nn::VarStore::new(device);
    let generator = Generator::new(&vs, model::Z_SIZE, Upsample::Plain, Precision::Fp32);
    print_table("Generator G", &vs, "generator", |trace| {
        let (z, c) = model::noise(1, model::Z_SIZE, device);
        let _ = generator.forward_traced(&z, &c, trace);
    });
    Ok(())
}
