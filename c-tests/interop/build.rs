//! Compiles the C half of the interop tests against the library's headers.
fn main() {
    println!("cargo:rerun-if-changed=interop.c");
    println!("cargo:rerun-if-changed=interop.h");
    cc::Build::new()
        .file("interop.c")
        .include("../../include")
        .flag("-std=gnu11")
        .warnings_into_errors(true)
        .extra_warnings(true)
        .compile("interop_c");
}
