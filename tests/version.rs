//! The version is written once, in Cargo.toml. What takes it from there at
//! build time (the CMake project, the headers' macros through build.rs,
//! `isula_mailbox_version()`) cannot drift; what must repeat it is checked
//! here: the RPM spec, the newest CHANGELOG.md entry, and the library's
//! answer at run time.

use std::ffi::CStr;
use std::fs;
use std::path::Path;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn read(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn the_library_answers_cargo_tomls_version() {
    // SAFETY: isula_mailbox_version() returns a static NUL-terminated
    // string, never NULL.
    let answered =
        unsafe { CStr::from_ptr(isula_mailbox_ffi::isula_mailbox::isula_mailbox_version()) };
    assert_eq!(answered.to_str().unwrap(), VERSION);
}

#[test]
fn the_headers_define_cargo_tomls_version() {
    let header = read("include/isula_mailbox.h");
    let define = |name: &str| {
        header
            .lines()
            .find_map(|line| line.strip_prefix(&format!("#define {name} ")))
            .unwrap_or_else(|| panic!("isula_mailbox.h does not define {name}"))
            .trim()
            .to_string()
    };
    let spelled = format!(
        "{}.{}.{}",
        define("ISULA_MAILBOX_VERSION_MAJOR"),
        define("ISULA_MAILBOX_VERSION_MINOR"),
        define("ISULA_MAILBOX_VERSION_PATCH")
    );
    assert_eq!(spelled, VERSION);
    assert_eq!(define("ISULA_MAILBOX_VERSION"), format!("\"{VERSION}\""));
}

#[test]
fn the_rpm_spec_packages_cargo_tomls_version() {
    let spec = read("packaging/rpm/isula-mailbox.spec");
    let version = spec
        .lines()
        .find_map(|line| line.strip_prefix("Version:"))
        .expect("the spec has a Version: line")
        .trim();
    assert_eq!(version, VERSION, "packaging/rpm/isula-mailbox.spec");
    let changelog = spec
        .split("%changelog")
        .nth(1)
        .expect("the spec has a %changelog");
    let newest = changelog
        .lines()
        .find(|line| line.starts_with('*'))
        .expect("a %changelog entry");
    assert!(
        newest.contains(&format!("- {VERSION}-")),
        "the spec's newest %changelog entry is not {VERSION}: {newest}"
    );
}

#[test]
fn the_newest_changelog_entry_is_cargo_tomls_version() {
    let changelog = read("CHANGELOG.md");
    let newest = changelog
        .lines()
        .filter_map(|line| line.strip_prefix("## "))
        .find(|heading| heading.starts_with(|c: char| c.is_ascii_digit()))
        .expect("CHANGELOG.md has a version heading");
    assert!(
        newest.starts_with(&format!("{VERSION} ")),
        "CHANGELOG.md's newest entry is {newest}, Cargo.toml says {VERSION}"
    );
}
