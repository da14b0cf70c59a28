//! What every binary does at its edges: errors printed as one clear message with a non-zero exit
//! status, never a panic's backtrace; the device flags; value parsers shared by several binaries;
//! sizes checked against memory before anything is allocated; counts printed with their commas.

pub mod checkpoint_args;
pub mod device;
pub mod memory;
pub mod parse;

pub use checkpoint_args::CheckpointArgs;
pub use device::DeviceArgs;

use anyhow::Result;

/// Runs a binary's body and exits: 0, or 1 with `error: ...` on stderr. A panic (a bug, or a
/// libtorch error the flags' checks did not foresee: tch panics on those) is reported the same
/// way, as one line without libtorch's C++ stack frames.
pub fn main(body: impl FnOnce() -> Result<()>) -> ! {
    keep_freed_memory();
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let text = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("unknown panic");
        let at = info.location().map(|l| format!(" (at {}:{})", l.file(), l.line())).unwrap_or_default();
        eprintln!("error: {}{at}\nThis is a bug: please report it with the command line.", first_line(text));
    }));
    let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            eprintln!("error: {e:#}");
            1
        }
        Err(_) => 1, // the hook has said what happened
    };
    std::process::exit(code)
}

/// Keeps freed memory in the process for the next allocation of the same size. Training
/// allocates and frees the same activation tensors every step; glibc's defaults return large
/// blocks to the system on free (mmap below a dynamic threshold, trimming above 128 KB), so every
/// step paid page faults for all of them again. Blocks up to glibc's maximum threshold (32 MiB on
/// 64-bit) now come from the heap, which is not trimmed.
pub fn keep_freed_memory() {
    // SAFETY: mallopt only sets allocator parameters; it is called before any thread allocates.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

/// `n` with its digits grouped by commas, as the docs write counts.
///
/// ```
/// assert_eq!(cli::thousands(8_172_521), "8,172,521");
/// assert_eq!((cli::thousands(999), cli::thousands(1000), cli::thousands(0)), ("999".into(), "1,000".into(), "0".into()));
/// ```
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Ends the process at once with `code`, from any thread (a signal handler's included): no
/// destructors and no atexit handlers run. `std::process::exit` would run libtorch's static
/// destructors while the main thread is still inside libtorch, which crashes.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit only ends the process; it touches no Rust or C++ state.
    unsafe { libc::_exit(code) }
}

/// The message of a panic without libtorch's C++ frames ("Exception raised from ... frame #0").
fn first_line(text: &str) -> String {
    let text = text.split("Exception raised from").next().unwrap_or(text);
    let text = text.lines().next().unwrap_or("").trim_end_matches("\\n").trim();
    text.to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn torch_errors_lose_their_stack_frames() {
        let panic = "called `Result::unwrap()` on an `Err` value: Torch(\"The size of tensor a (3) must match the size of tensor b (4)\\nException raised from infer_size_impl at ../aten/src/ATen/ExpandUtils.cpp:31 (most recent call first):\\nframe #0: c10::Error\")";
        assert_eq!(
            super::first_line(panic),
            "called `Result::unwrap()` on an `Err` value: Torch(\"The size of tensor a (3) must match the size of tensor b (4)"
        );
        assert_eq!(super::memory::human_bytes(4.1e12), "4.1 TB");
    }
}
