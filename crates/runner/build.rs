//! Links the runner with its segments on 2 MiB boundaries, so each stretch
//! of its code lines up with one huge page: see `src/primitives/huge_code.rs`
//! for why runners want that. Its test binaries are linked the same way, so
//! `huge_code`'s own test finds code to move wherever the loader puts them
//! (with 4 KiB alignment, whether the code held a whole aligned 2 MiB
//! stretch depended on the random load address).

fn main() {
    println!("cargo:rustc-link-arg=-Wl,-z,max-page-size=0x200000");
    println!("cargo:rerun-if-changed=build.rs");
}
