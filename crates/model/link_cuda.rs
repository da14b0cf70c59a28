// Shared by the build scripts of every crate with a binary that takes --gpu (model, train, eval):
// `include!`d, since a build script cannot depend on a library of its own workspace.
//
// libtorch registers its CUDA backend only when libtorch_cuda.so is loaded, but no symbol of it is
// referenced, so the linker's default --as-needed drops it and `--gpu 0` would find no CUDA
// (tch-rs issue #980). Linking it with --no-as-needed keeps it whenever the libtorch we build
// against has it; a CPU-only libtorch has no such file and links as before.
fn link_torch_cuda() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let Ok(libtorch) = std::env::var("LIBTORCH") else { return };
    let lib = std::path::Path::new(&libtorch).join("lib");
    let present: Vec<&str> =
        ["torch_cuda", "c10_cuda"].into_iter().filter(|name| lib.join(format!("lib{name}.so")).exists()).collect();
    if present.is_empty() {
        return;
    }
    println!("cargo:rustc-link-search=native={}", lib.display());
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    for name in present {
        println!("cargo:rustc-link-arg=-l{name}");
    }
    println!("cargo:rustc-link-arg=-Wl,--as-needed");
}
