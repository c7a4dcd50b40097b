//! The committed headers in `include/` are exactly what cbindgen generates
//! from `src/ffi/` now (build.rs writes them to `$OUT_DIR/include`).
//! After changing the C API: `ISULA_MAILBOX_UPDATE_HEADERS=1 cargo build
//! --features generate-headers`, then commit `include/`. (`cargo test`
//! builds the library with that feature, through c-tests/abi.) And the Rust declarations of the C API that the
//! project's Rust tests use say the same.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

#[test]
fn committed_headers_match_the_generated_ones() {
    // Set by build.rs with the generate-headers feature, which c-tests/abi,
    // a dev-dependency, turns on.
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
         `ISULA_MAILBOX_UPDATE_HEADERS=1 cargo build --features generate-headers` and commit include/"
    );
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

/// Every function of the headers is declared in `c-tests/abi/src/lib.rs`
/// (the C API as the Rust tests, benchmarks and fuzzer see it), with as
/// many arguments, and nothing else is: those declarations cannot drift
/// from the C API.
#[test]
fn the_rust_declarations_of_the_c_api_match_the_headers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let headers = header_functions();
    let source = fs::read_to_string(root.join("c-tests/abi/src/lib.rs")).unwrap();
    let externs = &source[source.find("extern \"C\" {").unwrap() + 12..];
    let declared: BTreeMap<String, usize> = prototypes(&code(externs))
        .into_iter()
        .filter(|(name, _)| !name.is_empty())
        .collect();
    assert!(headers.len() >= 29, "{headers:?}");
    assert_eq!(declared, headers);
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
