//! How evenly one load's commands spread over a store's Redis nodes:
//! `CONFIG RESETSTAT` on every node before the load, `INFO commandstats`
//! after it (the calls each node executed, a script's own calls included),
//! and each node's main-thread CPU before and after (`INFO cpu`, which a
//! reset leaves alone). Reported per node as its share of the calls and of
//! the CPU, with its busiest commands; a table of its own in the report.

use crate::redis_nodes::RedisNodes;

/// With this many masters or more, none should take more than
/// `SHARE_TARGET` of the calls.
const MASTERS_FOR_TARGET: usize = 3;
const SHARE_TARGET: f64 = 0.40;
/// Busiest commands shown per node.
const BUSIEST_SHOWN: usize = 4;
/// The bench's own reads of the counters, left out of the calls.
const OWN_COMMANDS: [&str; 2] = ["info", "config|resetstat"];
/// The commands that run a script.
const SCRIPT_COMMANDS: [&str; 2] = ["evalsha", "eval"];

/// What one node did during the load.
#[derive(Debug, Clone)]
pub struct NodeLoad {
    pub address: String,
    pub slots: String,
    pub calls: u64,
    pub cpu_secs: f64,
    /// Socket reads that brought the calls in.
    pub reads: u64,
    /// Its busiest commands, by calls.
    pub busiest: Vec<(String, u64)>,
    /// Scripts run (`EVALSHA`, `EVAL`) and the microseconds they took,
    /// their own calls included (`INFO commandstats`).
    pub scripts: (u64, u64),
}

/// One load's spread over the nodes.
#[derive(Debug, Clone)]
pub struct Spread {
    pub store: String,
    pub accounts: usize,
    pub load: String,
    pub nodes: Vec<NodeLoad>,
}

/// The counters are reset and the CPU read when it opens; `close` reads them again.
pub struct SpreadWindow<'a> {
    nodes: &'a RedisNodes,
    cpu_before: Vec<f64>,
}

impl<'a> SpreadWindow<'a> {
    pub fn open(nodes: &'a RedisNodes) -> anyhow::Result<SpreadWindow<'a>> {
        nodes.reset_stats()?;
        let cpu_before = nodes.counters()?.iter().map(|counters| counters.main_thread_cpu_secs).collect();
        Ok(SpreadWindow { nodes, cpu_before })
    }

    pub fn close(self, store: &str, accounts: usize, load: &str) -> anyhow::Result<Spread> {
        let after = self.nodes.counters()?;
        let nodes = self
            .nodes
            .nodes
            .iter()
            .zip(after)
            .zip(self.cpu_before)
            .map(|((node, counters), cpu_before)| {
                let of_scripts = |counts: &[(String, u64)]| -> u64 {
                    counts.iter().filter(|(name, _)| SCRIPT_COMMANDS.contains(&name.as_str())).map(|(_, n)| n).sum()
                };
                let scripts = (of_scripts(&counters.calls), of_scripts(&counters.usec));
                let mut calls: Vec<(String, u64)> =
                    counters.calls.into_iter().filter(|(name, _)| !OWN_COMMANDS.contains(&name.as_str())).collect();
                calls.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                NodeLoad {
                    address: node.address.clone(),
                    slots: node.slots.clone(),
                    calls: calls.iter().map(|(_, calls)| calls).sum(),
                    cpu_secs: (counters.main_thread_cpu_secs - cpu_before).max(0.0),
                    reads: counters.reads,
                    busiest: calls.into_iter().take(BUSIEST_SHOWN).collect(),
                    scripts,
                }
            })
            .collect();
        let spread = Spread { store: store.to_owned(), accounts, load: load.to_owned(), nodes };
        for line in spread.lines() {
            println!("  {line}");
        }
        Ok(spread)
    }
}

impl Spread {
    fn total_calls(&self) -> u64 {
        self.nodes.iter().map(|node| node.calls).sum()
    }

    fn total_cpu_secs(&self) -> f64 {
        self.nodes.iter().map(|node| node.cpu_secs).sum()
    }

    fn call_share(&self, node: &NodeLoad) -> f64 {
        node.calls as f64 / self.total_calls().max(1) as f64
    }

    fn cpu_share(&self, node: &NodeLoad) -> f64 {
        node.cpu_secs / self.total_cpu_secs().max(1e-9)
    }

    /// One line per node, as the run prints them.
    fn lines(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|node| {
                format!(
                    "{:<40} {:<21} {:>9} calls ({:>5.1} %)  CPU {:.2} s ({:.1} %)",
                    self.load,
                    node.address,
                    node.calls,
                    100.0 * self.call_share(node),
                    node.cpu_secs,
                    100.0 * self.cpu_share(node)
                )
            })
            .collect()
    }

    /// Redis main-thread CPU per item of the load (a withdrawal, a
    /// settlement), summed over the nodes, and how many calls a socket read
    /// brought (scripts' own calls included); the note that says it.
    pub fn cpu_per(&self, items: u64, what: &str) -> String {
        let reads: u64 = self.nodes.iter().map(|node| node.reads).sum();
        let (scripts, script_usec) =
            self.nodes.iter().fold((0, 0), |(calls, usec), node| (calls + node.scripts.0, usec + node.scripts.1));
        format!(
            "{}, {} accounts, {}: Redis main-thread CPU per {what}: {:.1} µs over {} node(s) ({} {what}s, {:.2} s of CPU, {} calls, {:.1} per socket read); scripts {:.1} µs per {what} (INFO commandstats: {scripts} calls, {:.1} µs each)",
            self.store,
            self.accounts,
            self.load,
            1e6 * self.total_cpu_secs() / items.max(1) as f64,
            self.nodes.len(),
            items,
            self.total_cpu_secs(),
            self.total_calls(),
            self.total_calls() as f64 / reads.max(1) as f64,
            script_usec as f64 / items.max(1) as f64,
            script_usec as f64 / scripts.max(1) as f64,
        )
    }

    /// The node that took the most calls, and its share of them.
    fn busiest_node(&self) -> Option<(&NodeLoad, f64)> {
        let busiest = self.nodes.iter().max_by_key(|node| node.calls)?;
        Some((busiest, self.call_share(busiest)))
    }

    /// For a load spread over many accounts: the note of a master over the
    /// target share, if any.
    pub fn over_target(&self) -> Option<String> {
        if self.nodes.len() < MASTERS_FOR_TARGET {
            return None;
        }
        let (busiest, share) = self.busiest_node()?;
        (share > SHARE_TARGET).then(|| {
            format!(
                "{}, {} accounts, {}: master {} took {:.1} % of the calls, over the {:.0} % target (busiest commands: {})",
                self.store,
                self.accounts,
                self.load,
                busiest.address,
                100.0 * share,
                100.0 * SHARE_TARGET,
                busiest_text(busiest)
            )
        })
    }

    /// For a load on one account: which master took it (one account's keys
    /// lie in one slot, so one master takes its work by design).
    pub fn one_account(&self) -> Option<String> {
        if !self.nodes.iter().any(|node| !node.slots.is_empty()) {
            return None;
        }
        let (busiest, share) = self.busiest_node()?;
        Some(format!(
            "{}, {} accounts, {}: one account's keys lie in one slot; its master {} took {:.1} % of the calls (busiest commands: {})",
            self.store,
            self.accounts,
            self.load,
            busiest.address,
            100.0 * share,
            busiest_text(busiest)
        ))
    }
}

fn busiest_text(node: &NodeLoad) -> String {
    node.busiest.iter().map(|(name, calls)| format!("{name} {calls}")).collect::<Vec<_>>().join(", ")
}

/// The spread of every measured load over its nodes, as Markdown.
pub fn markdown_table(spreads: &[Spread]) -> String {
    let mut table = String::from(
        "| store | accounts | load | node | slots | calls | share of calls | main-thread CPU s | share of CPU | busiest commands (calls) |\n|---|---:|---|---|---|---:|---:|---:|---:|---|\n",
    );
    for spread in spreads {
        for node in &spread.nodes {
            table.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {:.1} % | {:.2} | {:.1} % | {} |\n",
                spread.store,
                spread.accounts,
                spread.load,
                node.address,
                if node.slots.is_empty() { "all" } else { &node.slots },
                node.calls,
                100.0 * spread.call_share(node),
                node.cpu_secs,
                100.0 * spread.cpu_share(node),
                busiest_text(node)
            ));
        }
    }
    table
}
