//! Every binary that takes --gpu loads libtorch's CUDA backend when the libtorch it was built
//! against has one (libtorch registers CUDA only when libtorch_cuda.so is loaded, and the linker
//! drops it unless told otherwise), and does not ask for it when that libtorch is CPU-only.

use std::path::PathBuf;
use std::process::Command;

fn binary(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    deps.parent().unwrap().join(name)
}

#[test]
fn gpu_binaries_link_libtorch_cuda_when_libtorch_has_it() {
    let libtorch =
        PathBuf::from(std::env::var("LIBTORCH").expect("LIBTORCH is set by scripts/setup's .cargo/config.toml"));
    let has_cuda = libtorch.join("lib/libtorch_cuda.so").exists();
    for name in ["train", "sample", "eval", "summary"] {
        let path = binary(name);
        assert!(path.is_file(), "{} is not built (run the tests with --workspace)", path.display());
        let out = Command::new("readelf").arg("-d").arg(&path).output().expect("readelf (binutils) is needed");
        let needed = String::from_utf8_lossy(&out.stdout);
        for lib in ["libtorch_cuda.so", "libc10_cuda.so"] {
            assert_eq!(
                needed.contains(&format!("[{lib}]")),
                has_cuda,
                "{name}: NEEDED {lib} should be {has_cuda}\n{needed}"
            );
        }
    }
}
