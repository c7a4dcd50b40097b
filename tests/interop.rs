//! C and Rust on the same topics in one process, both directions: runs the
//! helper crate `c-tests/interop` (real C built by the cc crate, plus the
//! Rust API, in one test binary) with a nested `cargo test`.

use std::path::Path;
use std::process::Command;

#[test]
#[cfg_attr(
    miri,
    ignore = "runs cargo on a crate with a C half: Miri runs Rust only"
)]
fn c_and_rust_share_the_topics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // target/<profile>/deps/<this test> -> target
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap();
    let status = Command::new(env!("CARGO"))
        .args(["test", "--quiet", "--manifest-path"])
        .arg(root.join("c-tests/interop/Cargo.toml"))
        .arg("--target-dir")
        .arg(target)
        .status()
        .expect("run cargo test for c-tests/interop");
    assert!(status.success(), "c-tests/interop failed");
}
