//! The layering, checked on the source: imports go one way, route → service
//! → domain → store, so that it cannot decay unnoticed. Each layer names the
//! crate modules it may use; a file that names another (in a `use` or a
//! path, outside comments) fails the check, and so does a circle among the
//! services or a service that reaches for actix.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module and the crate modules its files may name.
const LAYERS: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("observability", &[]),
    ("clock", &["domain"]),
    ("retry", &[]),
    ("settings", &["domain"]),
    ("store", &["domain", "observability", "settings"]),
    ("error", &["domain", "store", "telemetry"]),
    ("auth", &["clock", "domain", "error", "settings"]),
    ("providers", &["clock", "domain", "error", "retry", "settings", "store"]),
    ("services", &["auth", "clock", "domain", "error", "observability", "providers", "retry", "store"]),
    ("rate_limit", &["error", "settings"]),
    ("telemetry", &["observability", "settings"]),
    ("edge", &["error", "settings"]),
    (
        "routes",
        &[
            "auth",
            "clock",
            "domain",
            "edge",
            "error",
            "providers",
            "rate_limit",
            "services",
            "settings",
            "store",
            "telemetry",
        ],
    ),
];

/// Crates of the HTTP edge: services must not know they are behind HTTP.
const HTTP_CRATES: &[&str] = &["actix_web", "actix_http", "actix_rt", "actix_files"];

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return files };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The files of a top-level module: `src/<name>.rs` and everything under `src/<name>/`.
fn module_files(name: &str) -> Vec<PathBuf> {
    let root = source_root();
    let mut files = rust_files(&root.join(name));
    let single = root.join(format!("{name}.rs"));
    if single.exists() {
        files.push(single);
    }
    files
}

/// The code of a file without its comments (line comments and doc comments;
/// the codebase has no block comments).
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    without_comments(&text)
}

fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `<prefix><identifier>` in `code`, as the identifiers.
fn names_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name: String =
            code[at + prefix.len()..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            names.insert(name);
        }
    }
    names
}

/// `(file, what it names that its layer may not)` for every file of every layer.
fn backward_imports() -> Vec<String> {
    let mut problems = Vec::new();
    for (layer, allowed) in LAYERS {
        for file in module_files(layer) {
            let code = code_of(&file);
            for used in names_after(&code, "crate::") {
                if used != *layer && !allowed.contains(&used.as_str()) {
                    problems.push(format!("{}: `{layer}` may not use `crate::{used}`", file.display()));
                }
            }
            if *layer == "services" || *layer == "domain" || *layer == "store" {
                for http in HTTP_CRATES {
                    if !names_after(&code, &format!("{http}::")).is_empty() || code.contains(&format!("use {http}")) {
                        problems.push(format!("{}: `{layer}` may not use `{http}`", file.display()));
                    }
                }
            }
        }
    }
    problems
}

/// The services' modules and the other services modules each one names.
fn service_graph() -> BTreeMap<String, BTreeSet<String>> {
    let dir = source_root().join("services");
    let mut graph = BTreeMap::new();
    for file in rust_files(&dir) {
        let Some(module) = file.file_stem().and_then(|stem| stem.to_str()) else { continue };
        if module == "mod" {
            continue;
        }
        let code = code_of(&file);
        let mut uses = names_after(&code, "super::");
        uses.extend(names_after(&code, "crate::services::"));
        uses.remove(module);
        uses.retain(|used| dir.join(format!("{used}.rs")).exists());
        graph.insert(module.to_owned(), uses);
    }
    graph
}

/// A circle in `graph`, as the modules along it, if there is one.
fn find_circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|seen| seen == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|start| visit(start, graph, &mut Vec::new(), &mut done))
}

#[test]
fn every_layer_imports_only_the_layers_below_it() {
    let problems = backward_imports();
    assert!(problems.is_empty(), "imports against route → service → domain → store:\n{}", problems.join("\n"));
}

#[test]
fn no_two_services_import_each_other_even_through_others() {
    let graph = service_graph();
    assert!(graph.len() > 5, "the services were not found: {graph:?}");
    if let Some(circle) = find_circle(&graph) {
        panic!("the services import each other in a circle: {}", circle.join(" → "));
    }
}

#[test]
fn the_check_sees_a_backward_import_and_a_circle() {
    let code = "use crate::services::Foo;\n// use crate::routes::Bar;\nlet x = crate::domain::y;";
    assert_eq!(
        names_after(&without_comments(code), "crate::"),
        BTreeSet::from(["services".to_owned(), "domain".to_owned()])
    );
    let graph = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["c".to_owned()])),
        ("c".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]);
    assert_eq!(find_circle(&graph), Some(vec!["a", "b", "c", "a"].into_iter().map(str::to_owned).collect()));
}
