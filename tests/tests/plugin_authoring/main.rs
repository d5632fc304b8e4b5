//! From an empty folder to a tested plugin, as an author does it: `weft plugin new` in a
//! temporary folder outside the repository, `weft plugin build` with the language's own
//! toolchain, and `weft plugin test` against the project's sample spans and expected output.
//! Every language and world; then what an author sees when a tool is missing, an expectation
//! is wrong, or a name or folder is not usable.
//!
//! A test binary of its own: cargo runs test binaries one after another, so these toolchain
//! builds (each takes both cores) never run beside the timing-sensitive pipeline tests of
//! `end_to_end`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use weft_tests::process::weft_binary;

/// A scratch folder outside the repository, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(label: &str) -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "weft-authoring-{label}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `weft ARGS` in `dir` with `env` set; asserts it succeeded unless `expect_ok` is false.
fn weft(dir: &Path, args: &[&str], env: &[(&str, &str)], expect_ok: bool) -> Output {
    let mut command = Command::new(weft_binary());
    command.args(args).current_dir(dir);
    // Rust projects share one target folder, so the second project and later runs reuse the
    // SDK's dependencies; the projects themselves stay in the scratch folder.
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugin-projects");
    command.env("CARGO_TARGET_DIR", shared);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("running weft");
    if expect_ok {
        assert!(
            output.status.success(),
            "weft {args:?} failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// One language's toolchain at a time: each build takes both cores, and the other tests of
/// this binary, some of them timing-sensitive, run beside it.
static TOOLCHAIN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// new → build → test for both worlds of `language`; returns the scratch folder.
fn new_build_test(language: &str) -> Scratch {
    let _one_at_a_time = TOOLCHAIN.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new(language);
    for world in ["processor", "trace-sampler"] {
        let name = format!("my-{language}-{world}");
        weft(
            &scratch.0,
            &["plugin", "new", &name, "--lang", language, "--world", world],
            &[],
            true,
        );
        let project = scratch.0.join(&name);
        // Nothing in the project points back into the repository.
        let repository = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        for entry in walk(&project) {
            let contents = std::fs::read_to_string(&entry).unwrap_or_default();
            assert!(
                !contents.contains(&*repository.to_string_lossy()),
                "{} names the repository",
                entry.display()
            );
        }
        let built = text(&weft(&project, &["plugin", "build"], &[], true));
        let line = built
            .lines()
            .find(|l| l.starts_with("built "))
            .unwrap_or_else(|| panic!("no `built` line:\n{built}"));
        assert!(line.contains(&format!("{name}.wasm")), "{line}");
        assert!(
            line.contains(" bytes") && line.contains("sha256:"),
            "{line}"
        );
        let digest = line.rsplit("sha256:").next().unwrap();
        assert_eq!(digest.len(), 64, "{line}");
        // The digest printed is the file's.
        let bytes = std::fs::read(project.join(format!("{name}.wasm"))).unwrap();
        assert!(line.contains(&format!("({} bytes", bytes.len())), "{line}");
        let tested = text(&weft(&project, &["plugin", "test"], &[], true));
        assert!(
            tested.contains("ok: output matches"),
            "{language} {world}:\n{tested}"
        );
        // The processors drop the two health checks; the policies drop the one fast trace.
        let expected_out = match world {
            "processor" => "4 span(s) in, 2 span(s) out",
            _ => "4 span(s) in, 3 span(s) out",
        };
        assert!(
            tested.contains(expected_out),
            "{language} {world}:\n{tested}"
        );
    }
    scratch
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "node_modules" || name == "build" || name == "target" {
            continue;
        }
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_rust_plugin_goes_from_new_to_a_passing_test() {
    new_build_test("rust");
}

/// Breaks the processor of `project` by replacing `from` with `to` in `file`, rebuilds it, and
/// returns what `weft plugin test` reports (asserting that it failed).
fn failure_report(project: &Path, file: &str, from: &str, to: &str) -> String {
    let path = project.join(file);
    let source = std::fs::read_to_string(&path).unwrap();
    assert!(source.contains(from), "{file} has no {from:?}");
    std::fs::write(&path, source.replace(from, to)).unwrap();
    weft(project, &["plugin", "build", "--skip-tests"], &[], true);
    let output = weft(project, &["plugin", "test"], &[], false);
    assert!(!output.status.success(), "{}", text(&output));
    text(&output)
}

#[test]
fn a_python_plugin_goes_from_new_to_a_passing_test_and_its_traceback_leads_a_failure() {
    let scratch = new_build_test("python");
    // The newcomer's first mistake: the guest's own traceback comes first, wasm frames after.
    let report = failure_report(
        &scratch.0.join("my-python-processor"),
        "app.py",
        "if span.name in drop:",
        "if span.name.no_such_method() in drop:",
    );
    let traceback = report.find("Traceback (most recent call last)");
    let wasm = report.find("wasm backtrace");
    assert!(traceback.is_some(), "{report}");
    assert!(report.contains("AttributeError"), "{report}");
    assert!(report.contains("app.py"), "{report}");
    assert!(wasm.is_none_or(|w| traceback < Some(w)), "{report}");
}

#[test]
fn a_javascript_plugin_goes_from_new_to_a_passing_test_and_its_stack_leads_a_failure() {
    let scratch = new_build_test("javascript");
    let report = failure_report(
        &scratch.0.join("my-javascript-processor"),
        "plugin.js",
        "if (dropNames.has(span.name)) span.drop();",
        "if (dropNames.has(span.name.noSuchMethod())) span.drop();",
    );
    assert!(report.contains("TypeError"), "{report}");
    assert!(report.contains("noSuchMethod"), "{report}");
    assert!(report.contains("plugin.js:"), "{report}");
}

#[test]
fn a_c_plugin_goes_from_new_to_a_passing_test_and_a_wrong_expectation_fails() {
    let scratch = new_build_test("c");
    let project = scratch.0.join("my-c-processor");
    // The author's change breaks the expectation: the test fails with a diff naming the span.
    let expected = project.join("sample/expected.json");
    let changed = std::fs::read_to_string(&expected)
        .unwrap()
        .replace("GET /cart", "GET /basket");
    std::fs::write(&expected, changed).unwrap();
    let output = weft(&project, &["plugin", "test"], &[], false);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let shown = text(&output);
    assert!(
        shown.contains("- ") && shown.contains("GET /basket"),
        "{shown}"
    );
    assert!(
        shown.contains("+ ") && shown.contains("GET /cart"),
        "{shown}"
    );
}

#[test]
fn a_missing_toolchain_is_named_with_what_to_install() {
    let scratch = Scratch::new("toolchains");
    let empty = scratch.0.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    for (language, env, says) in [
        (
            "c",
            vec![("CLANG", "clang-that-is-not-installed")],
            "apt-get install clang lld wasi-libc",
        ),
        (
            "rust",
            vec![("CARGO", "cargo-that-is-not-installed")],
            "rustup target add wasm32-wasip2",
        ),
        (
            "javascript",
            vec![("PATH", empty.to_str().unwrap())],
            "Install Node.js 18 or newer",
        ),
    ] {
        let name = format!("missing-{language}");
        weft(
            &scratch.0,
            &["plugin", "new", &name, "--lang", language],
            &[],
            true,
        );
        let output = weft(&scratch.0.join(&name), &["plugin", "build"], &env, false);
        assert!(!output.status.success(), "{language}: {}", text(&output));
        assert!(
            text(&output).contains(says),
            "{language}: {}",
            text(&output)
        );
        // Nothing was built.
        assert!(!scratch.0.join(&name).join(format!("{name}.wasm")).exists());
    }
}

#[test]
fn a_bad_name_or_a_used_folder_is_refused() {
    let scratch = Scratch::new("refusals");
    let output = weft(
        &scratch.0,
        &["plugin", "new", "My_Plugin", "--lang", "c"],
        &[],
        false,
    );
    assert!(
        text(&output).contains("is not a plugin name"),
        "{}",
        text(&output)
    );
    std::fs::create_dir_all(scratch.0.join("taken")).unwrap();
    std::fs::write(scratch.0.join("taken/notes.txt"), "mine").unwrap();
    let output = weft(
        &scratch.0,
        &["plugin", "new", "taken", "--lang", "c"],
        &[],
        false,
    );
    assert!(
        text(&output).contains("exists and is not empty"),
        "{}",
        text(&output)
    );
    assert_eq!(
        std::fs::read_to_string(scratch.0.join("taken/notes.txt")).unwrap(),
        "mine"
    );
    // Building a folder that is not a project says so.
    let output = weft(&scratch.0, &["plugin", "build", "taken"], &[], false);
    assert!(
        text(&output).contains("is taken a plugin project"),
        "{}",
        text(&output)
    );
}
