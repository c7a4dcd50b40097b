//! Builds the C/C++ tests of `c-tests/` against the library's static and
//! shared builds and runs them, the way a C user of the library would.
//!
//! `cargo test` itself only builds the rlib, so the first test to need the
//! C libraries runs `cargo build --lib` once (same profile, same target
//! directory) to make them: `libisula_mailbox_ffi.a` and `.so`, the C
//! library as cargo names it (CMake names them `libisula_mailbox`).
//!
//! Environment:
//! - `CC`, `CXX`: the compilers (default `cc`, `c++`);
//! - `ISULA_MAILBOX_TEST_WRAPPER`: a command line to run each test under,
//!   e.g. `valgrind --error-exitcode=99 ...` (see `.ci/run`);
//! - `ISULA_MAILBOX_TEST_TIMEOUT`: seconds before a test is killed (600).

#![allow(dead_code)]

use std::env;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How a test links the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Static,
    Shared,
}

/// The language a source is compiled as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    C,
    Cxx,
}

pub struct Toolchain {
    pub root: PathBuf,
    pub lib_dir: PathBuf,
    pub build_dir: PathBuf,
}

impl Lang {
    pub fn of(source: &Path) -> Lang {
        match source.extension().and_then(|e| e.to_str()) {
            Some("c") => Lang::C,
            _ => Lang::Cxx,
        }
    }

    pub fn compiler(self) -> String {
        match self {
            Lang::C => env::var("CC").unwrap_or_else(|_| "cc".into()),
            Lang::Cxx => env::var("CXX").unwrap_or_else(|_| "c++".into()),
        }
    }

    /// The flags the daemon's code must compile cleanly with.
    pub fn flags(self) -> &'static [&'static str] {
        match self {
            Lang::C => &[
                "-std=gnu11",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-g",
                "-O1",
                "-pthread",
            ],
            Lang::Cxx => &[
                "-std=c++17",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-g",
                "-O1",
                "-pthread",
            ],
        }
    }
}

/// Builds the C libraries once per test process.
pub fn toolchain() -> &'static Toolchain {
    static TOOLCHAIN: OnceLock<Toolchain> = OnceLock::new();
    TOOLCHAIN.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        // target/<profile>/deps/<this test>
        let exe = env::current_exe().expect("current_exe");
        let lib_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>")
            .to_path_buf();
        let target_dir = lib_dir.parent().expect("target dir").to_path_buf();
        let profile = lib_dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("profile")
            .to_string();
        let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "--lib", "--quiet", "--manifest-path"])
            .arg(root.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir);
        match profile.as_str() {
            "debug" => {}
            "release" => {
                build.arg("--release");
            }
            other => {
                build.args(["--profile", other]);
            }
        }
        let status = build.status().expect("run cargo build --lib");
        assert!(status.success(), "cargo build --lib failed");
        for lib in ["libisula_mailbox_ffi.a", "libisula_mailbox_ffi.so"] {
            assert!(
                lib_dir.join(lib).exists(),
                "{lib} not built in {}",
                lib_dir.display()
            );
        }
        let build_dir = lib_dir.join("c-tests");
        std::fs::create_dir_all(&build_dir).expect("create c-tests build dir");
        Toolchain {
            root,
            lib_dir,
            build_dir,
        }
    })
}

fn run_checked(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Toolchain {
    /// The compiler for `lang` with the daemon's flags and the library's
    /// include directory; with `libutils`, the stand-in
    /// `<isula_libutils/auto_cleanup.h>` (and the tests' helpers) of
    /// c-tests/ too.
    fn compiler(&self, lang: Lang, libutils: bool) -> Command {
        let mut cc = Command::new(lang.compiler());
        cc.args(lang.flags())
            .arg("-I")
            .arg(self.root.join("include"));
        if libutils {
            cc.arg("-I").arg(self.root.join("c-tests"));
        }
        cc
    }

    /// Compiles and links `c-tests/<source>`; returns the executable.
    pub fn build(&self, source: &str, link: Link) -> PathBuf {
        let src = self.root.join("c-tests").join(source);
        let lang = Lang::of(&src);
        let stem = Path::new(source).file_stem().unwrap().to_str().unwrap();
        let exe = self
            .build_dir
            .join(format!("{stem}-{}", format!("{link:?}").to_lowercase()));
        let mut cc = self.compiler(lang, true);
        cc.arg(&src).arg("-o").arg(&exe);
        match link {
            Link::Static => {
                cc.arg(self.lib_dir.join("libisula_mailbox_ffi.a"));
            }
            Link::Shared => {
                cc.arg("-L")
                    .arg(&self.lib_dir)
                    .arg("-lisula_mailbox_ffi")
                    .arg(format!("-Wl,-rpath,{}", self.lib_dir.display()));
            }
        }
        // What a Rust static library needs from the system.
        cc.args(["-lpthread", "-ldl", "-lm", "-lrt"]);
        run_checked(&mut cc, &format!("compiling {source}"));
        exe
    }

    /// Checks that `text` compiles (no link) as `lang` with the daemon's
    /// flags and the library's include directory; with `libutils`, the
    /// stand-in `<isula_libutils/auto_cleanup.h>` of c-tests/ is installed
    /// too.
    pub fn compiles(&self, name: &str, lang: Lang, libutils: bool, text: &str) {
        let ext = if lang == Lang::C { "c" } else { "cc" };
        let src = self.build_dir.join(format!("{name}.{ext}"));
        std::fs::write(&src, text).expect("write source");
        let mut cc = self.compiler(lang, libutils);
        cc.arg("-fsyntax-only").arg(&src);
        run_checked(&mut cc, &format!("compiling {name}.{ext}"));
    }
}

/// Runs `exe` (under the wrapper, if any) and fails on a non-zero exit or a
/// run longer than the timeout.
pub fn run(exe: &Path, args: &[&str]) {
    let wrapper = env::var("ISULA_MAILBOX_TEST_WRAPPER").unwrap_or_default();
    let mut words = wrapper.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(words).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    // Output goes to a file: a pipe nobody reads while waiting could fill up
    // and stall the test.
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let log = exe.with_extension(format!("{}.log", RUNS.fetch_add(1, Ordering::Relaxed)));
    let file = File::create(&log).expect("create test log");
    command
        .args(args)
        .stdout(file.try_clone().expect("dup log"))
        .stderr(file);
    let limit = env::var("ISULA_MAILBOX_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(600));
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", exe.display()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    match status {
        None => panic!(
            "{} {args:?} killed after {limit:?}:\n{output}",
            exe.display()
        ),
        Some(status) if !status.success() => {
            panic!("{} {args:?} failed ({status}):\n{output}", exe.display())
        }
        Some(_) => eprint!("{output}"),
    }
}
