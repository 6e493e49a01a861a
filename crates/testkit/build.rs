//! Links the testkit's runner as crates/runner/build.rs links the product's
//! (segments on 2 MiB boundaries, for `huge_code`), so what the benchmark
//! measures with this runner is what the product's does.

fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,-z,max-page-size=0x200000");
    println!("cargo:rerun-if-changed=build.rs");
}
