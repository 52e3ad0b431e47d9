//! The Grafana dashboard (`docs/grafana/walletgate.json`) and the metrics
//! guide (`docs/observability.md`) against the catalogue: the dashboard is
//! one Grafana can load, charts every catalogued metric and nothing else
//! (that every metric it names is exported is checked after traffic, in
//! `super`), and the guide explains every metric.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;
use walletgate::observability::catalogue::{CATALOGUE, Kind};

fn docs_file(path: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs").join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn dashboard() -> Value {
    serde_json::from_str(&docs_file("grafana/walletgate.json")).expect("the dashboard is JSON")
}

/// Every panel's queries.
fn exprs(dashboard: &Value) -> Vec<String> {
    let panels = dashboard["panels"].as_array().expect("panels");
    let targets = panels.iter().flat_map(|panel| panel["targets"].as_array().into_iter().flatten());
    targets.filter_map(|target| target["expr"].as_str()).map(str::to_owned).collect()
}

/// The metric names a PromQL expression reads: its identifiers, less
/// functions (followed by `(`), keywords, grouping labels (`by (…)`),
/// label matchers (`{…}`), ranges (`[…]`), strings and Grafana variables.
fn metric_names(expr: &str) -> Vec<String> {
    const KEYWORDS: &[&str] = &[
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "group_left",
        "group_right", // operators and modifiers
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    ];
    const GROUPINGS: &[&str] = &["by", "without", "on", "ignoring"];
    let skip_to =
        |chars: &[char], from: usize, end: char| chars[from..].iter().position(|c| *c == end).map(|n| from + n + 1);
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let closer = match c {
            '{' => Some('}'),
            '[' => Some(']'),
            '"' => Some('"'),
            _ => None,
        };
        if let Some(end) = closer {
            i = skip_to(&chars, i + 1, end).expect("balanced");
        } else if c == '$' || c.is_ascii_digit() || c == '.' {
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_{}.".contains(chars[i])) {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            if GROUPINGS.contains(&word.as_str()) {
                let open = chars[i..].iter().position(|c| *c == '(').expect("a grouping list") + i;
                i = skip_to(&chars, open + 1, ')').expect("balanced");
            } else if next != Some(&'(') && !KEYWORDS.contains(&word.as_str()) {
                names.push(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// Every metric name the dashboard's queries read.
pub(crate) fn charted_metrics() -> BTreeSet<String> {
    exprs(&dashboard()).iter().flat_map(|expr| metric_names(expr)).collect()
}

#[test]
fn metric_names_are_read_out_of_promql() {
    let expr = r#"histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket{route!="/metrics"}[$__rate_interval]))) / on (route) group_left max(up) and 2e3"#;
    assert_eq!(metric_names(expr), ["http_request_duration_seconds_bucket", "up"]);
}

#[test]
fn the_dashboard_is_one_grafana_loads() {
    let dashboard = dashboard();
    for field in ["title", "uid"] {
        assert!(dashboard[field].as_str().is_some_and(|text| !text.is_empty()), "{field}");
    }
    assert!(dashboard["schemaVersion"].as_u64().is_some_and(|version| version >= 36));
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    for panel in panels {
        let title = panel["title"].as_str().expect("every panel has a title");
        assert!(ids.insert(panel["id"].as_u64().expect("a numeric id")), "{title}: ids are unique");
        for field in ["h", "w", "x", "y"] {
            assert!(panel["gridPos"][field].is_u64(), "{title}: gridPos.{field}");
        }
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}: the dashboard's data source");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: charts something");
        for target in targets {
            assert!(target["expr"].as_str().is_some_and(|expr| !expr.is_empty()), "{title}: {target}");
            assert!(target["refId"].is_string(), "{title}: {target}");
        }
    }
    let variables = dashboard["templating"]["list"].as_array().expect("templating");
    assert!(
        variables.iter().any(|v| v["name"] == "datasource" && v["type"] == "datasource" && v["query"] == "prometheus")
    );
}

#[test]
fn the_dashboard_charts_every_catalogued_metric_and_nothing_else() {
    let charted = charted_metrics();
    let family = |name: &str| {
        CATALOGUE.iter().find(|metric| match metric.kind {
            Kind::Histogram => {
                ["_bucket", "_sum", "_count"].iter().any(|suffix| name == format!("{}{suffix}", metric.name))
            }
            Kind::Counter | Kind::Gauge => name == metric.name,
        })
    };
    for name in &charted {
        assert!(family(name).is_some(), "the dashboard charts `{name}`, which the catalogue lacks");
    }
    for metric in CATALOGUE {
        assert!(
            charted.iter().any(|name| family(name).is_some_and(|found| found.name == metric.name)),
            "{} is not charted",
            metric.name
        );
    }
}

#[test]
fn the_guide_explains_every_catalogued_metric() {
    let guide = docs_file("observability.md");
    for metric in CATALOGUE {
        assert!(
            guide.contains(&format!("`{}", metric.name)),
            "docs/observability.md does not mention `{}`",
            metric.name
        );
        for label in metric.labels {
            assert!(
                guide.contains(&format!("`{label}`")),
                "docs/observability.md does not explain the label `{label}`"
            );
        }
    }
}
