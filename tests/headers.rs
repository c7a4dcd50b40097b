//! The committed headers in `include/` are exactly what cbindgen generates
//! from `src/ffi/` now (build.rs writes them to `$OUT_DIR/include`).
//! After changing the C API: `ISULA_MAILBOX_UPDATE_HEADERS=1 cargo build`,
//! then commit `include/`.

use std::fs;
use std::path::Path;

#[test]
fn committed_headers_match_the_generated_ones() {
    let generated = Path::new(env!("ISULA_MAILBOX_GENERATED_HEADERS"));
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    let names = |dir: &Path| {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".h"))
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names(&committed),
        names(generated),
        "include/ has other headers than cbindgen makes"
    );
    let mut stale = Vec::new();
    for name in names(generated) {
        let fresh = fs::read_to_string(generated.join(&name)).unwrap();
        let old = fs::read_to_string(committed.join(&name)).unwrap();
        if fresh != old {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "include/{stale:?} differ from what cbindgen generates now; run \
         `ISULA_MAILBOX_UPDATE_HEADERS=1 cargo build` and commit include/"
    );
}
