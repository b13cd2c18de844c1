//! Tells the binary the target it was built for, so that a pack's native
//! plugin is chosen by its exact target triple (`x86_64-unknown-linux-gnu`).

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=THEMATIC_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
