//! The crate map of DESIGN §1 as a test: forbidden dependency edges fail the build.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

struct Graph {
    /// package name → its direct normal (non-dev, non-build) dependencies, by name.
    direct: BTreeMap<String, BTreeSet<String>>,
    /// workspace package name → itself, and name → its direct normal dependencies.
    names: BTreeMap<String, String>,
    edges: BTreeMap<String, Vec<String>>,
    workspace: BTreeSet<String>,
}

fn graph() -> Graph {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        // --no-deps: no registry access (resolution would want other platforms' crates);
        // workspace manifests carry every direct edge this test needs.
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let members: BTreeSet<String> = v["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    let mut names = BTreeMap::new();
    let mut direct = BTreeMap::new();
    let mut workspace = BTreeSet::new();
    for p in v["packages"].as_array().unwrap() {
        let id = p["id"].as_str().unwrap().to_owned();
        let name = p["name"].as_str().unwrap().to_owned();
        names.insert(id.clone(), name.clone());
        if members.contains(&id) {
            workspace.insert(name.clone());
            let deps: BTreeSet<String> = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .collect();
            direct.insert(name, deps);
        }
    }
    let mut edges = BTreeMap::new();
    for (name, deps) in &direct {
        edges.insert(name.clone(), deps.iter().cloned().collect::<Vec<_>>());
        names.insert(name.clone(), name.clone());
    }
    Graph {
        direct,
        names,
        edges,
        workspace,
    }
}

impl Graph {
    /// Every package reachable from `name` through normal dependencies of workspace
    /// packages (external crates are leaves: what they pull in is not ours to layer).
    fn transitive(&self, name: &str) -> BTreeSet<String> {
        let start: Vec<String> = self
            .names
            .iter()
            .filter(|(_, n)| n.as_str() == name)
            .map(|(id, _)| id.clone())
            .collect();
        let mut seen = BTreeSet::new();
        let mut stack = start;
        while let Some(id) = stack.pop() {
            for d in self.edges.get(&id).into_iter().flatten() {
                if seen.insert(d.clone()) {
                    stack.push(d.clone());
                }
            }
        }
        seen.into_iter()
            .filter_map(|id| self.names.get(&id).cloned())
            .collect()
    }

    fn ws_deps(&self, name: &str) -> BTreeSet<String> {
        self.direct
            .get(name)
            .map(|d| {
                d.iter()
                    .filter(|x| self.workspace.contains(*x))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[test]
fn crate_map_of_design_section_1_holds() {
    let g = graph();
    let mut errors = Vec::new();
    // Allowed workspace dependencies per crate (normal dependencies only).
    let allowed: &[(&str, &[&str])] = &[
        ("model", &[]),
        ("market", &["model"]),
        ("sim", &["model", "market"]),
        ("binance", &["model", "market"]),
        ("kraken", &["model", "market"]),
        ("bybit", &["model", "market"]),
        ("okx", &["model", "market"]),
        ("coinbase", &["model", "market"]),
        ("bitstamp", &["model", "market"]),
        ("engine", &["model"]),
        ("store", &["model"]),
        // The lab's recording format: pure, on the domain types only.
        ("tape", &["model"]),
        // The lab's replays: tapes as the engine's books, and as a venue through the
        // market's `Exchange` trait (no HTTP, no store).
        ("replay", &["model", "market", "engine", "tape"]),
        ("papertwap-wire", &[]),
        // The HTTP layer knows no store (DESIGN §13): orders come through the engine,
        // users through its accounts port; the composition root implements both.
        ("api", &["model", "market", "engine", "papertwap-wire"]),
        ("papertwap-client", &["papertwap-wire"]),
        // The CLI talks to the server through the SDK only; `papertwap tape ls|export` reads
        // the tapes of this machine's server folder directly (the format crate, on `model`).
        (
            "papertwap-cli",
            &["papertwap-client", "papertwap-wire", "tape", "model"],
        ),
        ("examples", &["papertwap-client", "papertwap-wire"]),
    ];
    for (krate, ok) in allowed {
        for d in g.ws_deps(krate) {
            if !ok.contains(&d.as_str()) {
                errors.push(format!("{krate} must not depend on {d}"));
            }
        }
    }
    // External crates confined to one layer.
    let confined: &[(&str, &[&str])] = &[
        ("sqlx", &["store"]),
        // papertwap-tools: the bare actix peer the REST comparison measures against.
        ("actix-web", &["api", "papertwap-server", "papertwap-tools"]),
        ("actix-ws", &["api"]),
    ];
    for (ext, owners) in confined {
        for (krate, deps) in &g.direct {
            if deps.contains(*ext) && !owners.contains(&krate.as_str()) {
                errors.push(format!("only {owners:?} may use {ext}, not {krate}"));
            }
        }
    }
    // model is pure; wire depends on serde, rust_decimal, chrono (and optional utoipa) only.
    for bad in [
        "tokio",
        "serde",
        "serde_json",
        "reqwest",
        "sqlx",
        "actix-web",
    ] {
        if g.direct.get("model").is_some_and(|d| d.contains(bad)) {
            errors.push(format!("model must stay pure, but depends on {bad}"));
        }
    }
    for d in g.direct.get("papertwap-wire").into_iter().flatten() {
        if !["serde", "rust_decimal", "chrono", "utoipa"].contains(&d.as_str()) {
            errors.push(format!(
                "wire may depend on serde, rust_decimal, chrono only, not {d}"
            ));
        }
    }
    // Nothing in the HTTP layer reaches the store, even transitively.
    let api = g.transitive("api");
    for bad in ["store", "sqlx"] {
        if api.contains(bad) {
            errors.push(format!("api transitively depends on {bad}"));
        }
    }
    // testkit is never a normal dependency of what ships: only of the end-to-end package
    // (its `mock-venues` binary) and the measuring tools (`record-load`'s Binance venue).
    for (krate, deps) in &g.direct {
        if deps.contains("testkit") && !["e2e", "papertwap-tools"].contains(&krate.as_str()) {
            errors.push(format!("{krate} has testkit as a normal dependency"));
        }
    }
    // The SDK never pulls the server side in, even transitively.
    let client = g.transitive("papertwap-client");
    for bad in ["actix-web", "api", "model", "market", "store", "sqlx"] {
        if client.contains(bad) {
            errors.push(format!("papertwap-client transitively depends on {bad}"));
        }
    }
    assert!(
        errors.is_empty(),
        "layering violations:\n{}",
        errors.join("\n")
    );
}
