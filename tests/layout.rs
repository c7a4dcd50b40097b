//! The tree reads as the architecture (`src/lib.rs`, docs/DEVELOPING.md "Layout"):
//! - no cycle between the modules of `src/`, judged from their `use`
//!   lines (a name a module re-exports from a child counts as the child's);
//! - the floors, from the bottom: `sys`; `core`; `alloc`; `mailbox`; then
//!   `ffi` and `api` side by side, neither using the other;
//! - no `unsafe` in `src/core/` and `src/api/` but their `forbid`
//!   attributes;
//! - every C export runs its body through `ffi_body!` (or `ffi::call`):
//!   none can let a panic out or fail without a log line.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `core/mod.rs` -> `core`, `mailbox/events.rs` -> `mailbox::events`.
fn module_of(file: &Path) -> Module {
    let rel = file.strip_prefix(src()).unwrap();
    let mut parts: Module = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The source without comments and string literals, so that only code
/// is searched.
fn code_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('/', Some('/')) => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            ('"', _) => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if !escaped && c == '"' {
                        break;
                    }
                    escaped = !escaped && c == '\\';
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// The `use` items of a file: (is it a re-export, the use tree).
fn use_items(code: &str) -> Vec<(bool, String)> {
    let mut items = Vec::new();
    let words: Vec<&str> = code.split(';').collect();
    for statement in words {
        let statement = statement.trim();
        // The item may follow attributes or other items on the same line.
        let Some(at) = find_use_keyword(statement) else {
            continue;
        };
        let head = statement[..at].trim_end();
        let public = head.ends_with("pub") || head.ends_with(')') && head.contains("pub(");
        items.push((public, statement[at + 4..].trim().to_string()));
    }
    items
}

fn find_use_keyword(statement: &str) -> Option<usize> {
    let bytes = statement.as_bytes();
    let mut from = 0;
    while let Some(i) = statement[from..].find("use ") {
        let at = from + i;
        let before = if at == 0 { b' ' } else { bytes[at - 1] };
        if !(before.is_ascii_alphanumeric() || before == b'_') {
            return Some(at);
        }
        from = at + 4;
    }
    None
}

/// `a::{b, c::{d, e as f}}` -> [(a::b, b), (a::c::d, d), (a::c::e, f)]:
/// each path with the name it brings in.
fn expand(tree: &str) -> Vec<(Vec<String>, String)> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = Vec::new();
    expand_into(&tree, &mut Vec::new(), &mut out);
    out
}

fn expand_into(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    if let Some(open) = tree.find('{') {
        let head = &tree[..open];
        let inner = &tree[open + 1..tree.rfind('}').unwrap()];
        let base = prefix.len();
        prefix.extend(head.split("::").filter(|s| !s.is_empty()).map(String::from));
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand_into(&inner[start..i], prefix, out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand_into(&inner[start..], prefix, out);
        prefix.truncate(base);
        return;
    }
    if tree.is_empty() {
        return;
    }
    let (path, alias) = match tree.split_once("as") {
        Some((path, alias)) if path.ends_with(|c: char| c.is_alphanumeric() || c == '_') => {
            (path, Some(alias))
        }
        _ => (tree, None),
    };
    let mut full = prefix.clone();
    full.extend(path.split("::").filter(|s| !s.is_empty()).map(String::from));
    if full.last().is_some_and(|s| s == "self") {
        full.pop();
    }
    let name = alias
        .map(String::from)
        .unwrap_or_else(|| full.last().cloned().unwrap_or_default());
    out.push((full, name));
}

struct Crate {
    modules: BTreeSet<Module>,
    /// module -> (name it re-exports -> absolute path of the name)
    reexports: BTreeMap<Module, BTreeMap<String, Vec<String>>>,
    uses: BTreeMap<Module, Vec<Vec<String>>>,
}

impl Crate {
    fn load() -> Crate {
        let mut files = Vec::new();
        rust_files(&src(), &mut files);
        let modules: BTreeSet<Module> = files.iter().map(|f| module_of(f)).collect();
        let mut krate = Crate {
            modules,
            reexports: BTreeMap::new(),
            uses: BTreeMap::new(),
        };
        for file in &files {
            let module = module_of(file);
            let code = code_of(&fs::read_to_string(file).unwrap());
            for (public, tree) in use_items(&code) {
                // An inline `mod tests` taking its file's names: its
                // `super` is the file, not the file's parent.
                if tree == "super::*" {
                    continue;
                }
                for (path, name) in expand(&tree) {
                    let Some(absolute) = krate.absolute(&module, &path) else {
                        continue; // another crate
                    };
                    if public {
                        krate
                            .reexports
                            .entry(module.clone())
                            .or_default()
                            .insert(name, absolute.clone());
                    }
                    krate.uses.entry(module.clone()).or_default().push(absolute);
                }
            }
        }
        krate
    }

    /// The path from the crate root, or `None` for another crate's.
    fn absolute(&self, from: &Module, path: &[String]) -> Option<Vec<String>> {
        let mut base = from.clone();
        let mut rest = path;
        match rest.first().map(String::as_str) {
            Some("crate") => {
                base.clear();
                rest = &rest[1..];
            }
            Some("super") | Some("self") => {
                while let Some(step) = rest.first().map(String::as_str) {
                    match step {
                        "super" => {
                            base.pop();
                        }
                        "self" => {}
                        _ => break,
                    }
                    rest = &rest[1..];
                }
            }
            Some(first) => {
                let mut child = from.clone();
                child.push(first.to_string());
                if !self.modules.contains(&child) {
                    return None;
                }
            }
            None => return None,
        }
        base.extend(rest.iter().cloned());
        Some(base)
    }

    /// The module that defines what `path` names, following re-exports.
    fn definer(&self, path: &[String]) -> Module {
        let mut path = path.to_vec();
        for _ in 0..8 {
            let module = (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|m| self.modules.contains(m))
                .unwrap_or_default();
            let Some(name) = path.get(module.len()) else {
                return module;
            };
            match self
                .reexports
                .get(&module)
                .and_then(|names| names.get(name))
            {
                Some(target) if target != &path[..=module.len()] => {
                    let mut next = target.clone();
                    next.extend(path[module.len() + 1..].iter().cloned());
                    path = next;
                }
                _ => return module,
            }
        }
        panic!("re-exports of {path:?} go round in circles");
    }

    fn edges(&self) -> BTreeMap<Module, BTreeSet<Module>> {
        let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
        for (module, uses) in &self.uses {
            for path in uses {
                let target = self.definer(path);
                // A module re-exporting its own children is their facade,
                // not their user.
                if target != *module && !target.starts_with(module) {
                    edges.entry(module.clone()).or_default().insert(target);
                }
            }
        }
        edges
    }
}

fn name(module: &Module) -> String {
    if module.is_empty() {
        "crate".into()
    } else {
        module.join("::")
    }
}

#[test]
fn no_module_depends_on_one_that_depends_on_it() {
    let krate = Crate::load();
    let edges = krate.edges();
    assert!(
        edges.contains_key(&vec!["api".to_string(), "topic".to_string()]),
        "the use lines were not read: {edges:?}"
    );
    // Depth-first search for a cycle, reporting the path.
    fn visit(
        module: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        done: &mut BTreeSet<Module>,
        path: &mut Vec<Module>,
    ) {
        if let Some(at) = path.iter().position(|m| m == module) {
            let cycle: Vec<String> = path[at..].iter().chain([module]).map(name).collect();
            panic!("module cycle: {}", cycle.join(" -> "));
        }
        if !done.insert(module.clone()) {
            return;
        }
        path.push(module.clone());
        for next in edges.get(module).into_iter().flatten() {
            visit(next, edges, done, path);
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for module in &krate.modules {
        visit(module, &edges, &mut done, &mut Vec::new());
    }
}

/// The floors: what each top-level module may use (itself included, and
/// `logging`, beside them all but `core` and below).
#[test]
fn each_floor_uses_only_the_floors_below_it() {
    let krate = Crate::load();
    for (module, targets) in krate.edges() {
        let allowed: &[&str] = match module.first().map(String::as_str) {
            Some("sys") => &["sys"],
            Some("core") => &["core", "sys"],
            Some("alloc") => &["alloc", "core"],
            Some("logging") => &["logging", "core"],
            Some("mailbox") => &["mailbox", "alloc", "core", "logging"],
            Some("ffi") => &["ffi", "mailbox", "alloc", "core", "logging"],
            Some("api") => &["api", "mailbox", "core", "logging"],
            _ => continue,
        };
        for target in targets {
            assert!(
                target
                    .first()
                    .is_some_and(|m| allowed.contains(&m.as_str())),
                "{} uses {}",
                name(&module),
                name(&target)
            );
        }
    }
}

#[test]
fn core_and_api_have_no_unsafe_but_their_forbid() {
    for dir in ["core", "api"] {
        let mut files = Vec::new();
        rust_files(&src().join(dir), &mut files);
        assert!(!files.is_empty());
        for file in files {
            for (n, line) in fs::read_to_string(&file).unwrap().lines().enumerate() {
                if line.contains("unsafe") {
                    assert_eq!(
                        line.trim(),
                        "#![forbid(unsafe_code)]",
                        "{}:{}",
                        file.display(),
                        n + 1
                    );
                }
            }
        }
    }
}

#[test]
fn the_use_tree_expander_reads_nested_groups() {
    let paths: Vec<_> = expand("super::{a, b::{c, d as e}, self}")
        .into_iter()
        .map(|(path, name)| (path.join("::"), name))
        .collect();
    assert_eq!(
        paths,
        [
            ("super::a".to_string(), "a".to_string()),
            ("super::b::c".into(), "c".into()),
            ("super::b::d".into(), "e".into()),
            ("super".into(), "super".into()),
        ]
    );
}

/// Every `#[no_mangle]` function's body is an `ffi_body!` (or, for the one
/// export split in two, an `ffi::call`): the boundary is not optional.
#[test]
fn every_export_runs_inside_the_boundary() {
    let mut files = Vec::new();
    rust_files(&src().join("ffi"), &mut files);
    let mut exports = 0;
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        let code = code_of(&text);
        for (at, _) in code.match_indices("#[no_mangle]") {
            exports += 1;
            let rest = &code[at..];
            let body = &rest[rest.find('{').unwrap() + 1..];
            let first = body.trim_start();
            let name = rest.split("fn ").nth(1).unwrap().split('(').next().unwrap();
            let split = format!("{}_in_boundary(", name.trim_start_matches("mailbox_"));
            assert!(
                first.starts_with("ffi_body!") || first.contains(&split),
                "{}: {name} does not run inside ffi_body!",
                file.display()
            );
        }
    }
    assert!(exports >= 29, "only {exports} exports found");
}
