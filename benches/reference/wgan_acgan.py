"""PyTorch eager reference of the article's WGAN-ACGAN iteration, for the side-by-side benchmark.

The same math as the Rust trainer (docs/SPEC.md), written the way a PyTorch user would: the literal
upsample + 5x5 conv, one generator call per critic iteration, torch's RMSprop with alpha=0.9 and
eps=1e-8 (that is Keras 2.0's update: a = 0.9a + 0.1g^2, p -= lr g / (sqrt(a) + eps)), and the
critic frozen with requires_grad=False for the generator step.

--precision bf16 is PyTorch's strongest form of mixed precision here: torch.autocast to bfloat16
with channels-last models and inputs. On CUDA, fp32 is exact fp32 (TF32 off for both cuBLAS and
cuDNN) unless --tf32.

Prints one JSON line: seconds per normal generator iteration (median of --repeats after --warmup),
seconds per boost iteration (--boost-d-iters critic iterations; median of --boost-repeats), and
peak RSS. Run by scripts/bench with the setup's Python environment, which projects the whole
schedule from the two.
"""

import argparse
import contextlib
import gzip
import json
import os
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

Z_SIZE, LEAK, DROP = 100, 0.3, 0.3


def glorot_(w):
    nn.init.xavier_uniform_(w)  # symmetric in the fans, as Keras's glorot_uniform


def conv(c_in, c_out, k, padding):
    c = nn.Conv2d(c_in, c_out, k, padding=padding)
    nn.init.normal_(c.weight, 0.0, 0.02)
    nn.init.zeros_(c.bias)
    return c


def dense(n_in, n_out):
    d = nn.Linear(n_in, n_out)
    glorot_(d.weight)
    nn.init.zeros_(d.bias)
    return d


class Critic(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_1, self.conv_2 = conv(1, 32, 3, 1), conv(32, 64, 3, 1)
        self.conv_3, self.conv_4 = conv(64, 128, 3, 1), conv(128, 256, 3, 1)
        self.is_fake, self.cls = dense(12544, 1), dense(12544, 10)

    def forward(self, x):
        x = F.dropout(F.max_pool2d(F.leaky_relu(self.conv_1(x), LEAK), 2), DROP, True)
        x = F.dropout(F.leaky_relu(self.conv_2(x), LEAK), DROP, True)
        x = F.dropout(F.leaky_relu(F.max_pool2d(self.conv_3(x), 2), LEAK), DROP, True)
        x = F.dropout(F.leaky_relu(self.conv_4(x), LEAK), DROP, True).flatten(1)
        return self.is_fake(x).squeeze(1), self.cls(x)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(10, Z_SIZE)
        glorot_(self.embedding.weight)
        self.dense_1, self.dense_2 = dense(Z_SIZE, 1024), dense(1024, 128 * 7 * 7)
        self.conv_1, self.conv_2 = conv(128, 256, 5, 2), conv(256, 128, 5, 2)
        self.conv_out = conv(128, 1, 2, 0)

    def forward(self, z, c):
        h = z * self.embedding(c)
        h = F.leaky_relu(self.dense_2(F.leaky_relu(self.dense_1(h), LEAK)), LEAK).view(-1, 128, 7, 7)
        h = F.leaky_relu(self.conv_1(F.interpolate(h, scale_factor=2, mode="nearest")), LEAK)
        h = F.leaky_relu(self.conv_2(F.interpolate(h, scale_factor=2, mode="nearest")), LEAK)
        return torch.tanh(self.conv_out(F.pad(h, (0, 1, 0, 1))))


def load_mnist(d):
    # torch alone (no numpy), raw or gzipped IDX files: the device's Python has torch and little else.
    def idx(name, offset, shape):
        path = f"{d}/{name}"
        data = open(path, "rb").read() if os.path.exists(path) else gzip.open(path + ".gz").read()
        return torch.frombuffer(bytearray(data[offset:]), dtype=torch.uint8).reshape(shape)

    x = torch.cat([idx("train-images-idx3-ubyte", 16, (-1, 1, 28, 28)), idx("t10k-images-idx3-ubyte", 16, (-1, 1, 28, 28))])
    y = torch.cat([idx("train-labels-idx1-ubyte", 8, (-1,)), idx("t10k-labels-idx1-ubyte", 8, (-1,))])
    return (x.float() - 127.5) / 127.5, y.long()


def iteration(G, D, opt_g, opt_d, X, Y, batch, d_iters, clip, autocast):
    dev = X.device
    for p in D.parameters():
        p.requires_grad_(True)
    for _ in range(d_iters):
        with torch.no_grad():
            for p in D.parameters():
                p.clamp_(-clip, clip)
        idx = torch.randperm(len(X), device=dev)[:batch]
        with autocast():
            is_fake, cls = D(X[idx])
            loss = (-is_fake.float()).mean() + F.cross_entropy(cls.float(), Y[idx])
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()
        z, c = torch.randn(batch, Z_SIZE, device=dev), torch.randint(0, 10, (batch,), device=dev)
        with torch.no_grad(), autocast():
            fake = G(z, c)
        with autocast():
            is_fake, cls = D(fake)
            loss = is_fake.float().mean() + F.cross_entropy(cls.float(), c)
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()
    for p in D.parameters():
        p.requires_grad_(False)
    z, c = torch.randn(batch, Z_SIZE, device=dev), torch.randint(0, 10, (batch,), device=dev)
    with autocast():
        is_fake, cls = D(G(z, c))
        loss = (-is_fake.float()).mean() + F.cross_entropy(cls.float(), c)
    opt_g.zero_grad(set_to_none=True)
    loss.backward()
    opt_g.step()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default="data/mnist")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--d-iters", type=int, default=5)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--tf32", action="store_true", help="CUDA: let fp32 products and convolutions use TF32")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--boost-d-iters", type=int, default=100)
    ap.add_argument("--boost-repeats", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(777)
    dev = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cudnn.benchmark = True
    X, Y = (t.to(dev) for t in load_mnist(args.data_dir))
    G, D = Generator().to(dev), Critic().to(dev)
    if args.precision == "bf16":
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
        X = X.contiguous(memory_format=torch.channels_last)
        def autocast():
            return torch.autocast(dev.type, dtype=torch.bfloat16)
    else:
        autocast = contextlib.nullcontext
    opt_g = torch.optim.RMSprop(G.parameters(), lr=5e-5, alpha=0.9, eps=1e-8)
    opt_d = torch.optim.RMSprop(D.parameters(), lr=5e-5, alpha=0.9, eps=1e-8)
    def timed(d_iters):
        t = time.perf_counter()
        iteration(G, D, opt_g, opt_d, X, Y, args.batch_size, d_iters, 0.01, autocast)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t

    times = [timed(args.d_iters) for _ in range(args.warmup + args.repeats)][args.warmup:]
    boost = [timed(args.boost_d_iters) for _ in range(args.boost_repeats)]
    print(json.dumps({
        "implementation": f"pytorch-eager-reference-{args.precision}" + ("-tf32" if args.tf32 else ""),
        "device": args.device,
        "torch": torch.__version__,
        "threads": args.threads,
        "batch_size": args.batch_size,
        "critic_iters": args.d_iters,
        "seconds_per_iteration": statistics.median(times),
        "all_seconds": times,
        "seconds_per_boost_iteration": statistics.median(boost) if boost else None,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
