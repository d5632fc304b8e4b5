//! `weft plugin test`: run one plugin on sample spans, print the result or a diff.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::contract::{apply_edits, build_view};
use crate::pdata::Traces;
use crate::pdata::traces::join_fragments;
use crate::sandbox::{
    ComponentCache, Grants, Limits, LoadedPlugin, PluginEngine, PluginError, World,
};
use crate::tail::{group_by_trace, join_traces};

/// `weft plugin test`: a project folder stands for its built component, its sample input and
/// expected output, and (when there is one) `sample/config.toml`; flags given override them.
pub fn plugin_test_command(
    plugin: &str,
    config: Option<std::path::PathBuf>,
    input: Option<std::path::PathBuf>,
    expect: Option<std::path::PathBuf>,
) -> anyhow::Result<ExitCode> {
    let dir = Path::new(plugin);
    if !dir.is_dir() {
        let input = input.context("--input is needed with a component or a built-in plugin")?;
        return plugin_test(plugin, config.as_deref(), &input, expect.as_deref());
    }
    let manifest = super::plugin_project::Manifest::read(dir)?;
    let component = manifest.component_path(dir);
    if !component.exists() {
        bail!(
            "{} is not built yet: run `weft plugin build {}` first",
            component.display(),
            dir.display()
        );
    }
    let sample = dir.join("sample");
    let config = config.or_else(|| Some(sample.join("config.toml")).filter(|p| p.exists()));
    // The sample's expected output goes with the sample's input: with an input of your own,
    // the output is printed unless --expect is given too.
    let expect = match (&input, expect) {
        (_, Some(expect)) => Some(expect),
        (None, None) => Some(sample.join("expected.json")),
        (Some(_), None) => None,
    };
    let input = input.unwrap_or_else(|| sample.join("input.json"));
    plugin_test(
        &component.to_string_lossy(),
        config.as_deref(),
        &input,
        expect.as_deref(),
    )
}

/// Runs `plugin` (a `.wasm` path or `builtin:NAME`) with the config table in `config` on the
/// OTLP JSON in `input`. Without `expect`, prints the result as OTLP JSON; with it, compares and
/// prints a line diff. Exit code: 0 success or match, 1 mismatch.
pub fn plugin_test(
    plugin: &str,
    config: Option<&Path>,
    input: &Path,
    expect: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let bytes: Vec<u8> = match plugin.strip_prefix("builtin:") {
        Some(name) => crate::builtin::plugin(name)
            .with_context(|| {
                format!(
                    "no built-in plugin {name:?}; built-ins are {}",
                    crate::builtin::names().join(", ")
                )
            })?
            .to_vec(),
        None => std::fs::read(plugin).with_context(|| format!("reading plugin {plugin}"))?,
    };
    let table: toml::Table = match config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config {}", path.display()))?;
            text.parse()
                .with_context(|| format!("parsing config {}", path.display()))?
        }
        None => toml::Table::new(),
    };
    let config_json = serde_json::to_string(&table)?;
    let request = read_otlp_json(input)?;
    let engine =
        PluginEngine::new().map_err(|e| anyhow::anyhow!("creating the wasm engine: {e}"))?;
    let name = Path::new(plugin)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(plugin)
        .trim_start_matches("builtin:");
    let load = |world| {
        LoadedPlugin::load_world(
            &engine,
            &ComponentCache::disabled(),
            world,
            name,
            &bytes,
            config_json.clone(),
            (Limits::default(), Grants::default()),
        )
    };
    // A span processor, or else a tail-sampling policy.
    let loaded = match load(World::Processor) {
        Err(PluginError::WrongWorld { .. }) => load(World::TraceSampler).map_err(|e| {
            anyhow::anyhow!("{e} (nor the processor world: it is neither kind of plugin)")
        })?,
        other => other?,
    };
    let loaded = Arc::new(loaded);
    let output = match loaded.world() {
        World::Processor => process(&loaded, &request)?,
        World::TraceSampler => decide(&loaded, &request)?,
    };
    eprintln!(
        "{} span(s) in, {} span(s) out",
        Traces::from_request(&request).span_count(),
        Traces::from_request(&output).span_count()
    );
    let actual = serde_json::to_string_pretty(&output)?;
    let Some(expect) = expect else {
        println!("{actual}");
        return Ok(ExitCode::SUCCESS);
    };
    let expected = serde_json::to_string_pretty(&read_otlp_json(expect)?)?;
    if expected == actual {
        println!("ok: output matches {}", expect.display());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "output differs from {} (- expected, + actual):",
        expect.display()
    );
    print!("{}", line_diff(&expected, &actual));
    Ok(ExitCode::FAILURE)
}

/// Runs a span processor on `request`; returns the request with its edits applied.
fn process(
    loaded: &Arc<LoadedPlugin>,
    request: &ExportTraceServiceRequest,
) -> anyhow::Result<ExportTraceServiceRequest> {
    let mut instance = loaded.instantiate()?;
    let mut batch = Traces::from_request(request);
    let edits = instance.process(&build_view(&batch, loaded.interest()))?;
    eprintln!("{} edit(s)", edits.len());
    apply_edits(&mut batch, edits)
        .map_err(|reason| anyhow::anyhow!("the plugin returned an invalid edit: {reason}"))?;
    Ok(batch.to_request())
}

/// Runs a tail-sampling policy on the traces of `request` as if each were complete; prints
/// each decision and returns the spans of the kept traces.
fn decide(
    loaded: &Arc<LoadedPlugin>,
    request: &ExportTraceServiceRequest,
) -> anyhow::Result<ExportTraceServiceRequest> {
    let fragments = Traces::from_request(request)
        .split_by_trace(&Default::default())
        .context("splitting the input by trace")?;
    let traces = group_by_trace(fragments);
    let (joined, ranges) =
        join_traces(traces.iter().map(|t| &t.fragments)).context("joining the input's traces")?;
    let mut instance = loaded.instantiate()?;
    let decisions = instance.decide(&build_view(&joined, loaded.interest()), &ranges, 0)?;
    // The output keeps each kept trace's spans apart, as the input file's traces were.
    let mut kept = Vec::new();
    for ((trace, range), decision) in traces.iter().zip(&ranges).zip(&decisions) {
        let hex = crate::codec::hex(&trace.key);
        let verdict = if decision.keep { "keep" } else { "drop" };
        let reason = match decision.reason.as_str() {
            "" => String::new(),
            reason => format!(", reason {reason:?}"),
        };
        eprintln!("trace {hex}: {verdict} ({} span(s)){reason}", range.len);
        if decision.keep {
            // Requests concatenate: each kept trace is `ResourceSpans` of its own.
            kept.extend_from_slice(&join_fragments(&trace.fragments));
        }
    }
    Ok(prost::Message::decode(kept.as_slice())?)
}

fn read_otlp_json(path: &Path) -> anyhow::Result<ExportTraceServiceRequest> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let request: ExportTraceServiceRequest = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not OTLP JSON (ExportTraceServiceRequest)",
            path.display()
        )
    })?;
    if let Err(reason) = Traces::decode(prost::Message::encode_to_vec(&request).into()) {
        bail!("{}: {reason}", path.display());
    }
    Ok(request)
}

/// A unified-style diff of two texts, with two lines of context around each change.
pub fn line_diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    // Longest common subsequence table; sample files are small.
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    let near_change = |k: usize| {
        ops[k.saturating_sub(2)..(k + 3).min(ops.len())]
            .iter()
            .any(|(op, _)| *op != ' ')
    };
    let mut out = String::new();
    let mut skipped = false;
    for (k, (op, line)) in ops.iter().enumerate() {
        if *op == ' ' && !near_change(k) {
            skipped = true;
            continue;
        }
        if skipped {
            out.push_str("  ...\n");
            skipped = false;
        }
        out.push_str(&format!("{op} {line}\n"));
    }
    if skipped {
        out.push_str("  ...\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::line_diff;

    #[test]
    fn diff_shows_changed_lines_with_context() {
        let diff = line_diff("a\nb\nc\nd\ne\nf\ng\n", "a\nb\nc\nX\ne\nf\ng\n");
        assert_eq!(diff, "  ...\n  b\n  c\n- d\n+ X\n  e\n  f\n  ...\n");
    }
}
