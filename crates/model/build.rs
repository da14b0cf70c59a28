include!("link_cuda.rs");

use std::path::PathBuf;

fn main() {
    link_torch_cuda();
    compile_leaky_relu();
}

/// Compiles `src/leaky_relu.cpp` against the libtorch that torch-sys links: its headers sit beside
/// the library directory torch-sys reports (DEP_TCH_LIBTORCH_LIB).
fn compile_leaky_relu() {
    println!("cargo:rerun-if-changed=src/leaky_relu.cpp");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    let lib = PathBuf::from(std::env::var("DEP_TCH_LIBTORCH_LIB").expect("torch-sys reports its libtorch"));
    let root = lib.parent().expect("libtorch's lib directory has a parent");
    // torch-sys's default, which the setup's PyPI libtorch was built with.
    let cxx11_abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_owned());
    cc::Build::new()
        .cpp(true)
        .pic(true)
        // libtorch's own headers warn under -Wextra (torch-sys builds them the same way).
        .warnings(false)
        .include(root.join("include"))
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={cxx11_abi}"))
        .flag("-DGLOG_USE_GLOG_EXPORT")
        .file("src/leaky_relu.cpp")
        .compile("model_leaky_relu");
}
