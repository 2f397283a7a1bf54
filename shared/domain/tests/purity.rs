//! The domain core stays free of AWS and Lambda: neither `leadrouter-domain` nor
//! `leadrouter-lead` may depend, directly or transitively, on an `aws-*` or `lambda_*` crate.

use std::collections::{HashMap, HashSet};
use std::process::Command;

use serde_json::Value;

fn forbidden(name: &str) -> bool {
    name.starts_with("aws-")
        || name.starts_with("aws_")
        || name.starts_with("lambda_")
        || name.starts_with("lambda-")
}

#[test]
fn domain_crates_have_no_aws_or_lambda_dependency() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Resolve for this machine only, so no other platform's crates need downloading.
    let rustc = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("run rustc -vV");
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .expect("host triple");
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--filter-platform",
            &host,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata json");
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    let deps: HashMap<&str, Vec<&str>> = meta["resolve"]["nodes"]
        .as_array()
        .expect("resolve")
        .iter()
        .filter_map(|n| {
            let id = n["id"].as_str()?;
            // Normal (non-dev) dependencies only: what ships.
            let ds = n["deps"]
                .as_array()?
                .iter()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .is_some_and(|k| k.iter().any(|k| k["kind"].is_null()))
                })
                .filter_map(|d| d["pkg"].as_str())
                .collect();
            Some((id, ds))
        })
        .collect();
    let mut checked = 0;
    for root in ["leadrouter-domain", "leadrouter-lead"] {
        let root_id = names
            .iter()
            .find(|(_, n)| **n == root)
            .map(|(id, _)| *id)
            .expect("package present");
        let mut seen = HashSet::new();
        let mut stack = vec![root_id];
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let name = names.get(id).copied().unwrap_or_default();
            assert!(!forbidden(name), "{root} depends on {name}");
            stack.extend(deps.get(id).into_iter().flatten());
        }
        assert!(
            seen.len() > 5,
            "{root}: the dependency walk found too little ({})",
            seen.len()
        );
        checked += 1;
    }
    assert_eq!(checked, 2);
    // The check itself can fail: the AWS crate, where present, does depend on the SDK.
    if let Some(aws) = names
        .iter()
        .find(|(_, n)| **n == "leadrouter-aws")
        .map(|(id, _)| *id)
    {
        let direct = deps
            .get(aws)
            .into_iter()
            .flatten()
            .filter_map(|d| names.get(d))
            .any(|n| forbidden(n));
        assert!(direct, "leadrouter-aws should depend on aws-* crates");
    }
}
