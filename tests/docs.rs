//! The documents point only at what the repository has:
//! - every relative link and every repository path written in `README.md`,
//!   `BENCHMARKS.md`, `docs/` (and any other Markdown file of the project)
//!   exists, and none leads outside the repository;
//! - so does every file name in the head comment of a `c-tests/` source.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The project's files, without build output and vendored trees.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            // vendor: `cargo vendor`'s crates (README.md, "Packaging and building offline").
            if !matches!(
                name.as_str(),
                "target" | ".git" | "corpus" | "artifacts" | "vendor"
            ) && !name.starts_with("build")
            {
                files(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

fn all_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    files(&root(), &mut out);
    out
}

/// Whether a path in prose names something of this repository: its
/// directory is one of ours (`src/daemon/...` is iSulad's: the repository
/// has a `src/` but no `src/daemon/`). Build output is not ours.
fn is_repository_path(token: &str) -> bool {
    let trimmed = token.trim_end_matches('/');
    let Some((dir, _)) = trimmed.rsplit_once('/') else {
        return false;
    };
    let first = dir.split('/').next().unwrap_or("");
    root().join(dir).is_dir() && !matches!(first, "target" | "build" | "")
}

/// The text without fenced code blocks (shell sessions, CMake, sample
/// output): prose only.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Where `target` leads from the document `from`, or why it is wrong.
fn check(from: &Path, target: &str, relative_to: &Path) -> Result<(), String> {
    let target = target.split('#').next().unwrap_or("");
    if target.is_empty() {
        return Ok(()); // an anchor in the same document
    }
    let path = relative_to.join(target);
    let Ok(resolved) = path.canonicalize() else {
        return Err(format!("{}: {target} does not exist", from.display()));
    };
    if !resolved.starts_with(root().canonicalize().unwrap()) {
        return Err(format!(
            "{}: {target} is outside the repository",
            from.display()
        ));
    }
    Ok(())
}

/// Whether a paragraph speaks of iSulad's tree (the patch series, the
/// daemon's CMake): its paths are iSulad's, not this repository's. Written
/// with the word "iSulad" or "isulad" (not `isulad-e2e`, a script here).
fn about_isulads_tree(paragraph: &str) -> bool {
    let bytes = paragraph.as_bytes();
    ["iSulad", "isulad"].iter().any(|word| {
        paragraph.match_indices(word).any(|(at, _)| {
            let before = at.checked_sub(1).map(|i| bytes[i]);
            let after = bytes.get(at + word.len()).copied();
            let part_of_a_name = |b: Option<u8>| {
                b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            };
            !part_of_a_name(before) && !part_of_a_name(after)
        })
    })
}

fn markdown_links(text: &str) -> Vec<String> {
    let mut links = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        if let Some(end) = after.find(')') {
            links.push(after[..end].trim().to_string());
        }
        rest = after;
    }
    links
}

fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|code| code.split_whitespace().next())
        .map(String::from)
        .collect()
}

#[test]
fn markdown_links_and_paths_resolve_inside_the_repository() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in all_files() {
        if file.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        let dir = file.parent().unwrap();
        for link in markdown_links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            problems.extend(check(&file, &link, dir).err());
        }
        for token in prose(&text)
            .split("\n\n")
            .filter(|paragraph| !about_isulads_tree(paragraph))
            .flat_map(backticked)
        {
            let token = token.trim_end_matches([',', '.', ':', ';', ')']);
            if !token.contains('/') && token.ends_with(".md") {
                // A document named bare: it must be one of the repository's.
                checked += 1;
                if !all_files()
                    .iter()
                    .any(|f| f.file_name().is_some_and(|n| n == token))
                {
                    problems.push(format!("{}: {token} does not exist", file.display()));
                }
            } else if token.starts_with("../") {
                problems.push(format!(
                    "{}: {token} is outside the repository",
                    file.display()
                ));
            } else if is_repository_path(token) && !token.contains(['*', '<', '{', '$']) {
                checked += 1;
                problems.extend(check(&file, token, &root()).err());
            }
        }
    }
    assert!(checked > 20, "only {checked} links and paths found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn file_names_in_c_test_heads_exist() {
    let everything = all_files();
    let exists = |name: &str| {
        if name.contains('/') {
            root().join(name).exists()
        } else {
            everything
                .iter()
                .any(|f| f.file_name().is_some_and(|n| n == name))
        }
    };
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in everything
        .iter()
        .filter(|f| f.starts_with(root().join("c-tests")))
    {
        if !file
            .extension()
            .is_some_and(|e| e == "c" || e == "cc" || e == "h")
        {
            continue;
        }
        let text = fs::read_to_string(file).unwrap();
        // The head comment: the leading comment lines or block.
        let head: String = text
            .lines()
            .take_while(|l| {
                let l = l.trim_start();
                l.starts_with("//") || l.starts_with("/*") || l.starts_with('*')
            })
            .collect::<Vec<_>>()
            .join("\n");
        for word in head.split(|c: char| c.is_whitespace() || "(),;:`\"'".contains(c)) {
            let word = word.trim_end_matches('.');
            let is_file = [".md", ".c", ".cc", ".h", ".rs", ".toml", ".py", ".sh"]
                .iter()
                .any(|ext| word.len() > ext.len() && word.ends_with(ext))
                && !word.starts_with('.');
            if !is_file || word.contains('*') || word.starts_with('<') {
                continue;
            }
            checked += 1;
            if word.starts_with("../") || !exists(word) {
                problems.push(format!("{}: {word}", file.display()));
            }
        }
    }
    assert!(checked > 5, "only {checked} file names found");
    assert!(
        problems.is_empty(),
        "not in the repository:\n{}",
        problems.join("\n")
    );
}
