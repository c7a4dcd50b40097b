//! The C API is written once, in the exports (`src/<header>.rs`); every
//! other list of it is made from them or checked against them here:
//! - the committed headers in `include/` are what cbindgen generates from
//!   the exports now (build.rs, feature `generate-headers`; after changing
//!   the C API: `ISULA_MAILBOX_UPDATE_HEADERS=1 cargo build --features
//!   generate-headers`, then commit `include/`);
//! - the library exports exactly the functions the headers declare;
//! - the version script (`cmake/isula_mailbox.map`) names exactly them.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

#[test]
#[cfg_attr(miri, ignore = "runs cargo and cbindgen: Miri runs Rust only")]
fn committed_headers_match_the_generated_ones() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // A build of its own (target/headers): the feature changes the library's
    // build script, which the test binaries' builds should not see change.
    let target = std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(3)
        .unwrap()
        .join("headers");
    let generated = target.join("include");
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--lib",
            "--features",
            "generate-headers",
        ])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env("ISULA_MAILBOX_HEADERS_OUT", &generated)
        .status()
        .expect("run cargo build --features generate-headers");
    assert!(
        status.success(),
        "cargo build --features generate-headers failed"
    );
    let committed = root.join("include");
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
        names(&generated),
        "include/ has other headers than cbindgen makes"
    );
    let mut stale = Vec::new();
    for name in names(&generated) {
        let fresh = fs::read_to_string(generated.join(&name)).unwrap();
        let old = fs::read_to_string(committed.join(&name)).unwrap();
        if fresh != old {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "include/{stale:?} differ from what cbindgen generates now; run \
         `ISULA_MAILBOX_UPDATE_HEADERS=1 cargo build --features generate-headers` and commit include/"
    );
}

/// Every function the headers declare is one the library exports, and it
/// exports nothing else (the shared library cargo builds, whose exports are
/// the crate's `#[no_mangle]` functions).
#[test]
#[cfg_attr(miri, ignore = "runs cargo and nm: Miri runs Rust only")]
fn the_library_exports_what_the_headers_declare() {
    let library = support::toolchain().lib_dir.join("libisula_mailbox_ffi.so");
    let output = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&library)
        .output()
        .expect("run nm");
    assert!(output.status.success(), "nm {}", library.display());
    let exported: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, kind, name) = (fields.next()?, fields.next()?, fields.next()?);
            (kind == "T").then(|| name.to_string())
        })
        .collect();
    let headers: Vec<String> = header_functions().into_keys().collect();
    assert!(headers.len() >= 30, "{headers:?}");
    let mut exported = exported;
    exported.sort();
    assert_eq!(exported, headers);
}

/// Drops `/* ... */` comments and preprocessor lines.
fn code(c: &str) -> String {
    let mut out = String::new();
    let mut rest = c;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("*/")
            .map_or(rest.len(), |e| start + e + 2);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out.lines()
        .filter(|line| !line.trim_start().starts_with('#') && !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `name -> argument count` of the statements `name(args)` that end in `;`
/// and are not typedefs, inline functions or macros.
fn prototypes(code: &str) -> BTreeMap<String, usize> {
    let mut found = BTreeMap::new();
    for statement in code.split(';') {
        let statement = statement.trim();
        // What follows a body (`extern "C" {`, an inline function, a
        // struct) is the statement.
        let statement = statement.rsplit(['{', '}']).next().unwrap_or("").trim();
        if statement.contains("typedef") {
            continue;
        }
        let Some(open) = statement.find('(') else {
            continue;
        };
        let name: String = statement[..open]
            .trim_end()
            .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("")
            .to_string();
        let Some(close) = statement.rfind(')') else {
            continue;
        };
        let args = statement[open + 1..close].trim();
        let count = match args {
            "" | "void" => 0,
            args => args.split(',').filter(|arg| !arg.trim().is_empty()).count(),
        };
        if !name.is_empty() {
            found.insert(name, count);
        }
    }
    found
}

/// `name -> argument count` of every function the headers of include/
/// declare.
fn header_functions() -> BTreeMap<String, usize> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut headers = BTreeMap::new();
    for entry in fs::read_dir(root.join("include")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "h") {
            headers.extend(prototypes(&code(&fs::read_to_string(&path).unwrap())));
        }
    }
    headers
}

/// The version script the CMake build links the shared library with
/// exports exactly the functions of the headers, each once, in a node
/// named after a version no later than Cargo.toml's.
#[test]
fn the_version_script_names_the_functions_of_the_headers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = code(&fs::read_to_string(root.join("cmake/isula_mailbox.map")).unwrap());
    let mut exported = Vec::new();
    let mut nodes = Vec::new();
    let mut rest = script.as_str();
    while let Some(open) = rest.find('{') {
        nodes.push(
            rest[..open]
                .trim()
                .trim_start_matches(';')
                .trim()
                .to_string(),
        );
        let close = rest[open..].find('}').expect("an unclosed node") + open;
        let body = &rest[open + 1..close];
        let global = body.split("local:").next().unwrap();
        let global = global.trim().strip_prefix("global:").unwrap_or(global);
        exported.extend(
            global
                .split(';')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(str::to_string),
        );
        // Past `} [parent];`.
        rest = &rest[close + 1..];
        rest = &rest[rest.find(';').map_or(rest.len(), |end| end + 1)..];
    }
    let mut sorted = exported.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        exported.len(),
        "a function in two nodes: {exported:?}"
    );
    let headers: Vec<String> = header_functions().into_keys().collect();
    assert_eq!(
        sorted, headers,
        "cmake/isula_mailbox.map must name exactly the functions of include/"
    );
    let (major, minor) = (
        env!("CARGO_PKG_VERSION_MAJOR").parse::<u32>().unwrap(),
        env!("CARGO_PKG_VERSION_MINOR").parse::<u32>().unwrap(),
    );
    for node in &nodes {
        let version = node
            .strip_prefix("ISULA_MAILBOX_")
            .unwrap_or_else(|| panic!("node {node}: not ISULA_MAILBOX_<major>.<minor>"));
        let (node_major, node_minor) = version.split_once('.').expect("<major>.<minor>");
        let (node_major, node_minor) = (
            node_major.parse::<u32>().unwrap(),
            node_minor.parse::<u32>().unwrap(),
        );
        assert!(
            node_major == major && node_minor <= minor,
            "node {node} is not a version of this soname up to {major}.{minor}"
        );
    }
}

/// Every export is written by `ffi_fn!` (src/boundary.rs), which puts its
/// body inside the panic boundary and logs its failures: no source of the
/// C library spells `#[no_mangle]` or defines a `pub extern "C" fn` itself.
/// (What Cargo and the compiler cannot say; the headers are generated from
/// the invocations, so an export written by hand would also be missing
/// from them.)
#[test]
fn every_export_is_an_ffi_fn() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for entry in fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|name| name == "boundary.rs") {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            // `extern "C" fn(` is a function pointer type; `pub ... extern
            // "C" fn name` defines a function C could link.
            let defines = code.trim_start().starts_with("pub")
                && code
                    .split("extern \"C\" fn ")
                    .skip(1)
                    .any(|rest| rest.starts_with(|c: char| c.is_alphabetic() || c == '_'));
            if code.contains("no_mangle") || defines {
                problems.push(format!(
                    "{}:{}: {}",
                    path.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "exports not made by ffi_fn!:\n{}",
        problems.join("\n")
    );
}
