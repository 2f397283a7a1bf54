//! Config loading: strict validation with path, line and hint.

use leadrouter_domain::config::{Format, Makeup, Route, RoutingConfig, Strategy, Target};

const MINIMAL: &str = r#"
[[reps]]
id = "a"

[[pools]]
id = "p"
members = ["a"]
strategy = "round_robin"

[[rules]]
name = "default"
pool = "p"
"#;

fn problems(src: &str) -> Vec<(String, Option<usize>, String)> {
    match RoutingConfig::parse(src, Format::Toml, "routing.toml") {
        Ok(_) => panic!("expected the config to be rejected"),
        Err(e) => e
            .problems
            .into_iter()
            .map(|p| (p.path, p.line, p.message))
            .collect(),
    }
}

#[test]
fn the_demo_config_is_valid() {
    let src = include_str!("../../../functions/leadrouter/demo.toml");
    let cfg = RoutingConfig::parse(src, Format::Toml, "demo.toml").expect("demo config is valid");
    assert_eq!(
        cfg.pool("enterprise").map(|p| p.strategy),
        Some(Strategy::Weighted)
    );
    assert_eq!(
        cfg.rules.last().map(|r| r.route.clone()),
        Some(Route::Pool("inbound".into()))
    );
}

#[test]
fn minimal_config_loads_with_defaults() {
    let cfg = RoutingConfig::parse(MINIMAL, Format::Toml, "x.toml").expect("valid");
    let pool = cfg.pool("p").expect("pool");
    assert!(pool.respect_working_hours);
    assert_eq!(pool.makeup, Makeup::Forget);
    assert_eq!(cfg.settings.sticky_days, 90);
    assert_eq!(cfg.rep("a").map(|r| r.weight), Some(1));
    assert_eq!(cfg.version.len(), 16);
}

#[test]
fn unknown_key_is_an_error_with_its_line() {
    let src = MINIMAL.replace(
        "strategy = \"round_robin\"",
        "strategy = \"round_robin\"\nstratgy = \"x\"",
    );
    let p = problems(&src);
    assert_eq!(p.len(), 1);
    assert!(p[0].2.contains("unknown field `stratgy`"), "{:?}", p);
    assert_eq!(p[0].1, Some(9));
}

#[test]
fn missing_pool_rep_in_no_pool_and_bad_timezone_are_all_reported() {
    let src = r#"
[[reps]]
id = "a"
timezone = "Mars/Olympus"

[[reps]]
id = "lonely"

[[pools]]
id = "p"
members = ["a"]
strategy = "round_robin"

[[rules]]
name = "r1"
when = { field = "country", equals = "DE" }
pool = "nope"

[[rules]]
name = "default"
pool = "p"
"#;
    let p = problems(src);
    let find = |path: &str| {
        p.iter()
            .find(|x| x.0 == path)
            .unwrap_or_else(|| panic!("no problem at {path}: {p:?}"))
    };
    assert_eq!(find("reps[0].timezone").1, Some(4));
    assert!(find("reps[1].id").2.contains("in no pool"));
    assert_eq!(find("reps[1].id").1, Some(7));
    assert_eq!(find("rules[0].pool").1, Some(17));
    assert!(find("rules[0].pool").2.contains("`nope` does not exist"));
}

#[test]
fn a_default_rule_is_required_last() {
    let src = MINIMAL.replace(
        "name = \"default\"",
        "name = \"default\"\nwhen = { field = \"country\", exists = true }",
    );
    assert!(problems(&src).iter().any(|p| p.2.contains("default rule")));
    let two_defaults = format!("{MINIMAL}\n[[rules]]\nname = \"second\"\npool = \"p\"\n");
    assert!(
        problems(&two_defaults)
            .iter()
            .any(|p| p.0 == "rules[0]" && p.2.contains("not the last rule"))
    );
    let none =
        "[[reps]]\nid = \"a\"\n[[pools]]\nid = \"p\"\nmembers = [\"a\"]\nstrategy = \"claim\"\n";
    assert!(problems(none).iter().any(|p| p.2.contains("no rules")));
}

#[test]
fn conditions_are_checked() {
    let src = MINIMAL.replace(
        "[[rules]]\nname = \"default\"",
        r#"[[rules]]
name = "bad"
when = { all = [{ field = "nope", equals = 1 }, { field = "email", regex = "(" }, { field = "country" }, { field = "company", gte = 1 }, { field = "seats", equals = 1, exists = true }] }
pool = "p"

[[rules]]
name = "default""#,
    );
    let p = problems(&src);
    let paths: Vec<&str> = p.iter().map(|x| x.0.as_str()).collect();
    assert!(paths.contains(&"rules[0].when.all[0].field"), "{p:?}");
    assert!(paths.contains(&"rules[0].when.all[1].regex"), "{p:?}");
    assert!(paths.contains(&"rules[0].when.all[2]"), "{p:?}");
    assert!(paths.contains(&"rules[0].when.all[3].field"), "{p:?}");
    assert!(paths.contains(&"rules[0].when.all[4]"), "{p:?}");
    assert!(
        p.iter().all(|x| x.1 == Some(12)),
        "all on the rule's line: {p:?}"
    );
}

#[test]
fn pools_are_checked() {
    let src = r#"
[[reps]]
id = "a"

[[pools]]
id = "p"
members = ["a", "a", "ghost"]
strategy = "fastest"
makeup = { policy = "sometimes" }
fallback = { pool = "q" }
sla = { accept_within = "soon" }

[[pools]]
id = "q"
members = ["a"]
strategy = "weighted"
fallback = { pool = "p" }

[[rules]]
name = "default"
pool = "p"
"#;
    let p = problems(src);
    let msgs: Vec<String> = p.iter().map(|x| format!("{} {}", x.0, x.2)).collect();
    for want in [
        "pools[0].members[1] `a` is listed twice",
        "pools[0].members[2] `ghost` is not a declared rep",
        "pools[0].strategy unknown strategy `fastest`",
        "pools[0].makeup.policy unknown make-up policy",
        "pools[0].sla.accept_within `soon` is not a duration",
        "pools[0].fallback fallback chain from `p` loops",
        "pools[1].fallback fallback chain from `q` loops",
    ] {
        assert!(
            msgs.iter().any(|m| m.starts_with(want)),
            "missing {want}: {msgs:#?}"
        );
    }
}

#[test]
fn reps_and_accounts_are_checked() {
    let src = r#"
[[reps]]
id = "a"
status = "sleepy"
weight = 0
max_open_leads = 0
working_hours = ["someday 9-5"]
out_of_office = [{ from = "2026-12-24", to = "2026-12-20" }]

[[reps]]
id = "a"

[[pools]]
id = "p"
members = ["a"]
strategy = "round_robin"

[[accounts]]
name = "X"
domains = ["x.com"]
owner = "ghost"
parent = "Y"

[[accounts]]
name = "Y"
domains = ["X.com"]
parent = "X"

[[rules]]
name = "default"
pool = "p"
"#;
    let p = problems(src);
    let paths: Vec<&str> = p.iter().map(|x| x.0.as_str()).collect();
    for want in [
        "reps[0].status",
        "reps[0].weight",
        "reps[0].max_open_leads",
        "reps[0].working_hours",
        "reps[0].out_of_office[0]",
        "reps[1].id",
        "accounts[0].owner",
        "accounts[1].domains[0]",
        "accounts[0].parent",
    ] {
        assert!(paths.contains(&want), "missing {want}: {p:#?}");
    }
}

#[test]
fn json_configs_load_and_locate_errors() {
    let json = r#"{
  "reps": [{"id": "a"}],
  "pools": [{"id": "p", "members": ["a"], "strategy": "claim", "fallback": {"rep": "a"}}],
  "rules": [
    {"name": "x", "when": {"field": "score", "gte": 50}, "rep": "b"},
    {"name": "default", "pool": "p"}
  ]
}"#;
    let err = RoutingConfig::parse(json, Format::Json, "r.json").expect_err("rep b is missing");
    assert_eq!(err.problems.len(), 1);
    assert_eq!(err.problems[0].path, "rules[0].rep");
    assert_eq!(err.problems[0].line, Some(5));
    assert!(err.to_string().starts_with("r.json:5:"), "{err}");
    let ok = json.replace("\"rep\": \"b\"", "\"rep\": \"a\"");
    let cfg = RoutingConfig::parse(&ok, Format::Json, "r.json").expect("valid");
    assert_eq!(
        cfg.pool("p").and_then(|p| p.fallback.clone()),
        Some(Target::Rep("a".into()))
    );
    let syntax =
        RoutingConfig::parse("{\n \"reps\": [,]\n}", Format::Json, "r.json").expect_err("syntax");
    assert_eq!(syntax.problems[0].line, Some(2));
}
