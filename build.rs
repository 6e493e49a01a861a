//! Links the forkline binary with its segments on 2 MiB boundaries, so each
//! stretch of its code lines up with one huge page: see
//! `server/runner/huge_code.rs` for why runners want that.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,max-page-size=0x200000");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
