//! What a run reports: each scenario's line as it is measured, as a ratio to
//! the bare endpoint of the same run (absolute numbers drift between
//! machines); the closing Markdown table and notes, optionally appended to a
//! file (BENCHMARKS.md); and the errors that fail the run.

use std::path::Path;

use crate::load::Measured;

/// Collects the scenarios of one store and scale, each as a share of `ceiling`
/// (the bare endpoint's requests per second measured in the same run).
pub struct Recorder {
    store: String,
    accounts: usize,
    ceiling: f64,
    pub measured: Vec<Measured>,
}

impl Recorder {
    pub fn new(store: &str, accounts: usize, ceiling: f64) -> Recorder {
        Recorder { store: store.to_owned(), accounts, ceiling, measured: Vec::new() }
    }

    /// Labels `run` as `scenario`, prints its line and keeps it; the labelled run.
    pub fn record(&mut self, scenario: &str, mut run: Measured) -> Measured {
        run.store = self.store.clone();
        run.accounts = self.accounts;
        run.scenario = scenario.to_owned();
        run.ratio = Some(run.per_sec / self.ceiling);
        println!(
            "  {scenario:<40} {:>9.0} req/s  ({:.1} % of bare)  p99 {:.2} ms  errors {}",
            run.per_sec,
            100.0 * run.per_sec / self.ceiling,
            run.p99_us as f64 / 1000.0,
            run.errors
        );
        self.measured.push(run.clone());
        run
    }
}

pub fn markdown_table(results: &[Measured]) -> String {
    let mut table = String::from(
        "| store | accounts | scenario | req/s | × bare | p50 ms | p99 ms | p99.9 ms | requests | errors |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for run in results {
        table.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.1} % | {:.2} | {:.2} | {:.2} | {} | {} |\n",
            run.store,
            run.accounts,
            run.scenario,
            run.per_sec,
            100.0 * run.ratio.unwrap_or(0.0),
            run.p50_us as f64 / 1000.0,
            run.p99_us as f64 / 1000.0,
            run.p999_us as f64 / 1000.0,
            run.requests,
            run.errors
        ));
    }
    table
}

/// The scenarios that met request errors, and the notes of an unbalanced ledger.
pub fn failures(results: &[Measured], notes: &[String]) -> Vec<String> {
    results
        .iter()
        .filter(|run| run.errors > 0)
        .map(|run| format!("{} ({}, {} accounts): {} errors", run.scenario, run.store, run.accounts, run.errors))
        .chain(notes.iter().filter(|note| note.contains("balanced = false")).cloned())
        .collect()
}

/// Appends the run (its command, `how` it ran, the table and the notes) to the Markdown file at `path`.
pub fn append_markdown(path: &Path, how: &str, table: &str, notes: &[String]) -> anyhow::Result<()> {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let mut text = format!(
        "\n### Run of {}\n\n`{command}` — {how}\n\n{table}\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
    );
    for note in notes {
        text.push_str(&format!("- {note}\n"));
    }
    let mut existing = std::fs::read_to_string(path).unwrap_or_default();
    existing.push_str(&text);
    std::fs::write(path, existing)?;
    Ok(())
}
