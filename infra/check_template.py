#!/usr/bin/env python3
"""Checks infra/template.yaml against the Rust code, so that a mismatch fails the build instead
of production. Run by infra/check.sh; stdlib + PyYAML.

For every Lambda function in the template (AWS::Serverless::Function):

1. Build: BuildMethod rust-cargolambda, provided.al2023, arm64; CodeUri is the workspace root
   and BuildProperties.Binary is the one Lambda binary, `leadrouter-lambda`. The function's
   Handler is one that binary's `main` dispatches on (`Ok("router") => leadrouter_router::run()`),
   and the crate it runs is the function's code for every check below. The Lambda crates of the
   workspace (members under functions/ that depend on lambda_runtime or lambda_http, less the
   binary's own) and the template's functions are the same set, one function each.
2. Triggers, from the handler's event type in the crate: `lambda_http::run` needs an API Gateway
   v2 integration (payload 2.0) and an invoke permission; `SqsEvent` an SQS event source, with
   `ReportBatchItemFailures` when the handler answers an `SqsBatchResponse`; `EventBridgeEvent` a
   schedule.
3. Environment: every `LEADROUTER_*` variable the crate's code reads (its own src/ and that of
   every workspace crate it depends on, transitively: `env::var("…")`, `var("…")`,
   `try_from_env("…")`) is set, and none is set that nobody reads.
4. IAM: every AWS action the function's code can call is allowed by the function's own policy on
   the right resource, and the policy allows nothing else. The SDK operations are read from the
   Rust source (`client.<operation>()` inside each `fn` of shared/aws/src and of the function
   crate), mapped to IAM actions (get_item -> dynamodb:GetItem; TransactWriteItems also needs the
   action of every kind of item it writes). Which adapter each function uses is the table `USES`
   below, the one hand-written part (a function holding the routing engine can call every store
   method; which queues it sends to).

Also: the table's key, indexes and TTL attribute equal `INDEXES` / `create_table` in
shared/aws/src/dynamo.rs.

`--lambda-packages` prints the Lambda package to build (check.sh). `--self-test` proves the check can fail: it removes one action from a copy of the template (and
one environment variable, and one index) and asserts each is reported.
"""

from __future__ import annotations

import copy
import re
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.yaml"

# Variables the code reads that the template deliberately does not set, and variables the
# template sets before the code reads them, with the reason. Each is reported as a warning, and
# a PENDING_UNREAD entry only while no code of the workspace reads the variable at all.
PENDING_UNSET = {
    "LEADROUTER_CONFIG": "optional: unset, the routing config is read from the DynamoDB table "
    "(pushed with `leadrouter config push --table`); a file path only for tests and special builds",
}
PENDING_UNREAD: dict[str, str] = {}

# The one binary behind every function (functions/lambda): its `main` runs a function crate's
# `run` by the function's Handler.
LAMBDA_BINARY = "leadrouter-lambda"
# Which adapters each function's code uses (by function crate).
#   store: "all"   -> it holds the routing engine / API over DynamoStore: every store method
#          a list  -> only these DynamoDB operations (snake_case)
#   sends: queues (template logical ids) it sends messages to through SqsQueue::send/send_batch
#   releases: queues it gives messages back to with a delay (SqsQueue::release); these must be
#          its SQS event source, whose SAM poller policy grants ChangeMessageVisibility
#   secrets: fetched from SSM at cold start (derived from the code: `secrets::` in its crate)
USES = {
    "leadrouter-ingest": {"store": "all", "sends": ["IntakeQueue", "EventsQueue"]},
    "leadrouter-router": {"store": "all", "sends": ["EventsQueue"]},
    "leadrouter-sweeper": {"store": "all", "sends": ["EventsQueue"]},
    # The notifier reads the routing config (GetItem/Query once it lives in the table) and
    # delays a failed delivery's retry on the events queue it consumes.
    "leadrouter-notifier": {"store": ["get_item", "query"], "sends": [], "releases": ["EventsQueue"]},
}
# The IAM action each kind of TransactWriteItems item needs.
TRANSACT_ACTIONS = {
    "put": "dynamodb:PutItem",
    "update": "dynamodb:UpdateItem",
    "delete": "dynamodb:DeleteItem",
    "condition_check": "dynamodb:ConditionCheckItem",
}
# Functions of shared/aws that only tests and local development call (never a Lambda).
SETUP_FNS = {"create_table", "create_queue_with_dlq"}
# Methods of shared/aws/src/config_store.rs only the admin CLI calls (never a function).
CONFIG_ADMIN_FNS = {"put", "transaction", "history"}
# Helpers of shared/aws/src/lib.rs that make one SDK operation for their caller: a call of the
# helper counts as that operation in the calling function (and not in lib.rs).
SHARED_OP_HELPERS = {"batch_get_items": "batch_get_item"}



# ------------------------------------------------------------------ template loading


class CfnLoader(yaml.SafeLoader):
    """A YAML loader that accepts CloudFormation's short tags (!Ref, !GetAtt, !Sub, ...)."""


def _cfn_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if tag_suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path: Path = TEMPLATE) -> dict:
    return yaml.load(path.read_text(), Loader=CfnLoader)  # noqa: S506 (SafeLoader subclass)


# ------------------------------------------------------------------ Rust source reading


def strip_rust(text: str, keep_strings: bool = False) -> str:
    """Comments removed and string/char literals blanked (kept as ""), so braces and calls are
    read from code only; `keep_strings` keeps string literals (to read variable names)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "r" and re.match(r'r#*"', text[i:]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r"r(#*)\"", text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            stop = n if end < 0 else end + 1 + len(hashes)
            out.append(text[i:stop] if keep_strings else '""')
            i = stop
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1] if keep_strings else '""')
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|\\u\{[0-9a-fA-F]+\}|[^\\'])'", text[i:]):
            m = re.match(r"'(\\.|\\u\{[0-9a-fA-F]+\}|[^\\'])'", text[i:])
            out.append("' '")
            i += m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


def rust_fns(text: str) -> dict[str, str]:
    """Each `fn name` of a file and its body (code only), by name; bodies of nested fns are also
    part of their parent's."""
    code = strip_rust(text)
    fns: dict[str, str] = {}
    for m in re.finditer(r"\bfn\s+([a-z_][a-z0-9_]*)", code):
        start = code.find("{", m.end())
        semi = code.find(";", m.end())
        if start < 0 or (0 <= semi < start):
            continue  # a declaration without a body (trait method)
        depth, j = 0, start
        while j < len(code):
            if code[j] == "{":
                depth += 1
            elif code[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        fns[m.group(1)] = fns.get(m.group(1), "") + code[start : j + 1]
    return fns


def sdk_ops(code: str) -> set[str]:
    """SDK operations called on a client: `client.get_item()` (whitespace ignored). A `query`
    whose request names an index (`.index_name(`) is reported as `query@index`: it needs the
    permission on the table's indexes, not on the table."""
    flat = re.sub(r"\s+", "", code)
    ops = set()
    for m in re.finditer(r"\bclient\.([a-z][a-z0-9_]*)\(\)", flat):
        op = m.group(1)
        if op == "clone":
            # `client.clone()` is Rust's Clone (a handle for a spawned task), not an operation.
            continue
        end = flat.find(".send()", m.end())
        chain = flat[m.end() : end if end >= 0 else len(flat)]
        ops.add(f"{op}@index" if op == "query" and ".index_name(" in chain else op)
    for helper, op in SHARED_OP_HELPERS.items():
        if re.search(rf"\b{helper}\(", flat):
            ops.add(op)
    return ops


def iam_action(service: str, op: str) -> str:
    """The IAM action of an SDK operation. SQS's batch operations are authorized by the single
    operation's action (SendMessageBatch needs sqs:SendMessage); DynamoDB's have their own."""
    if service == "sqs" and op.endswith("_batch"):
        op = op[: -len("_batch")]
    return f"{service}:" + "".join(part.capitalize() for part in op.split("_"))


def read_vars(code: str) -> set[str]:
    pattern = r'(?:\bvar|\bvar_os|try_from_env)\(\s*"(LEADROUTER_[A-Z0-9_]+)"'
    return set(re.findall(pattern, code))


# ------------------------------------------------------------------ workspace


class Workspace:
    def __init__(self, root: Path = ROOT):
        self.root = root
        manifest = tomllib.loads((root / "Cargo.toml").read_text())
        self.ws_paths = {
            name: spec["path"]
            for name, spec in manifest.get("workspace", {}).get("dependencies", {}).items()
            if isinstance(spec, dict) and "path" in spec
        }
        self.crates: dict[str, dict] = {}
        for member in manifest["workspace"]["members"]:
            cargo = root / member / "Cargo.toml"
            if not cargo.exists():
                continue
            m = tomllib.loads(cargo.read_text())
            name = m["package"]["name"]
            bins = [b["name"] for b in m.get("bin", [])]
            if (root / member / "src" / "main.rs").exists() and name not in bins:
                bins.append(name)
            deps = m.get("dependencies", {})
            self.crates[name] = {"dir": root / member, "bins": bins, "deps": set(deps)}

    def lambda_crates(self) -> dict[str, dict]:
        """The function crates: under functions/, with a Lambda runtime, other than the binary."""
        return {
            n: c
            for n, c in self.crates.items()
            if c["dir"].parent.name == "functions"
            and {"lambda_runtime", "lambda_http"} & c["deps"]
            and LAMBDA_BINARY not in c["bins"]
        }

    def handlers(self) -> dict[str, str]:
        """Handler -> function crate, read from the Lambda binary's dispatch in its main.rs."""
        owner = next((c for c in self.crates.values() if LAMBDA_BINARY in c["bins"]), None)
        if owner is None:
            return {}
        main = strip_rust((owner["dir"] / "src" / "main.rs").read_text(), keep_strings=True)
        return {
            handler: module.replace("_", "-")
            for handler, module in re.findall(r'Ok\("(\w+)"\)\s*=>\s*(\w+)::run\(\)', main)
        }

    def function_crate(self, res: dict, globals_: dict) -> str | None:
        """The function crate a template function runs: its Handler through the binary's dispatch."""
        if res.get("Metadata", {}).get("BuildProperties", {}).get("Binary") != LAMBDA_BINARY:
            return None
        return self.handlers().get(merged(res.get("Properties", {}), globals_).get("Handler"))

    def closure(self, name: str) -> list[str]:
        """The crate and the workspace crates it depends on (normal dependencies), transitively."""
        seen, todo = [], [name]
        while todo:
            n = todo.pop()
            if n in seen or n not in self.crates:
                continue
            seen.append(n)
            todo.extend(d for d in self.crates[n]["deps"] if d in self.crates)
        return seen

    def src(self, name: str, keep_strings: bool = False) -> str:
        return "\n".join(
            strip_rust(p.read_text(), keep_strings)
            for p in sorted((self.crates[name]["dir"] / "src").rglob("*.rs"))
        )


# ------------------------------------------------------------------ template helpers


def ref_name(value) -> str | None:
    """A logical id from !Ref X / !GetAtt X.Arn."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None


def resource_token(value) -> str:
    """A resource expression of a policy, reduced to what it names."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        s = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        m = re.fullmatch(r"\$\{(\w+)\.Arn\}/index/\*", s)
        if m:
            return f"{m.group(1)}/index"
        if ":ssm:" in s and "parameter${SecretsPrefix}*" in s:
            return "ssm-parameters"
        if ":kms:" in s:
            return "kms"
        return s
    name = ref_name(value)
    return name if name else str(value)


def granted(fn_props: dict) -> set[tuple[str, str]]:
    out = set()
    for policy in fn_props.get("Policies", []) or []:
        if not isinstance(policy, dict):
            out.add(("?managed-policy", str(policy)))
            continue
        for st in policy.get("Statement", []):
            if st.get("Effect") != "Allow":
                continue
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            for a in actions:
                for r in resources:
                    out.add((a, resource_token(r)))
    return out


def merged(props: dict, globals_: dict) -> dict:
    out = dict(globals_)
    out.update(props)
    return out


# ------------------------------------------------------------------ the check


def check(template: dict, ws: Workspace) -> tuple[list[str], list[str]]:
    errors: list[str] = []
    warnings: list[str] = []
    resources = template["Resources"]
    globals_ = template.get("Globals", {}).get("Function", {})
    aws = ws.crates["leadrouter-aws"]["dir"] / "src"

    # SDK operations of the AWS adapters.
    store_ops: set[str] = set()
    queue_method_ops: dict[str, set[str]] = {}
    secrets_ops: set[str] = set()
    config_read_ops: set[str] = set()
    stats_ops: set[str] = set()
    stats_transact: set[str] = set()
    for path in sorted(aws.glob("*.rs")):
        fns = rust_fns(path.read_text())
        ops = set()
        for name, body in fns.items():
            if name not in SETUP_FNS and not (path.name == "lib.rs" and name in SHARED_OP_HELPERS):
                ops |= sdk_ops(body)
        if path.name == "dynamo.rs":
            store_ops = ops
        elif path.name == "sqs.rs":
            queue_method_ops = {m: sdk_ops(body) for m, body in fns.items() if m not in SETUP_FNS}
        elif path.name == "secrets.rs":
            secrets_ops = ops
        elif path.name == "config_store.rs":
            # The functions only read the config (load_current / ConfigWatcher: current_version,
            # get); pushes (put, one TransactWriteItems) and history come from the admin's
            # `leadrouter config` CLI, which runs with the admin's credentials, not a function role.
            config_read_ops = set().union(
                *(sdk_ops(body) for name, body in fns.items() if name not in CONFIG_ADMIN_FNS)
            )
        elif path.name in ("redrive.rs", "doctor.rs"):
            # Admin CLI only (`leadrouter redrive` / `doctor`, the admin's credentials): no
            # function calls them.
            pass
        elif path.name == "stats.rs":
            # DynamoStatsStore: the engine of every function built by env::from_env holds it
            # (LEADROUTER_STATS=on, the default), so those functions call all of its operations.
            stats_ops = ops
            stats_flat = re.sub(r"\s+", "", strip_rust(path.read_text()))
            stats_transact = set(
                re.findall(r"TransactWriteItem::builder\(\)\.(put|update|delete|condition_check)\(", stats_flat)
            )
        elif ops:
            errors.append(
                f"shared/aws/src/{path.name} calls {sorted(ops)}: unknown to check_template.py (teach it the module and USES)"
            )
    dyn_text = strip_rust((aws / "dynamo.rs").read_text())
    flat = re.sub(r"\s+", "", dyn_text)
    transact_items = set(re.findall(r"TransactWriteItem::builder\(\)\.(put|update|delete|condition_check)\(", flat))
    transact_needs = {TRANSACT_ACTIONS[k] for k in transact_items}
    if not store_ops:
        errors.append("no DynamoDB operation found in shared/aws/src/dynamo.rs: the parser is out of date")

    # 1. functions <-> crates
    workspace_reads = read_vars("\n".join(ws.src(c, keep_strings=True) for c in ws.crates))
    template_fns = {
        logical: res for logical, res in resources.items() if res.get("Type") == "AWS::Serverless::Function"
    }
    lambda_crates = ws.lambda_crates()
    declared = {}
    handlers = ws.handlers()
    if not handlers:
        errors.append(f"no workspace crate builds `{LAMBDA_BINARY}` with a dispatch on _HANDLER")
    for logical, res in template_fns.items():
        meta = res.get("Metadata", {})
        props = merged(res.get("Properties", {}), globals_)
        binary = meta.get("BuildProperties", {}).get("Binary")
        handler = props.get("Handler")
        where = f"{logical} ({handler})"
        if binary != LAMBDA_BINARY:
            errors.append(f"{where}: BuildProperties.Binary is {binary!r}, expected {LAMBDA_BINARY!r}")
        owner = handlers.get(handler)
        if owner is None:
            errors.append(f"{where}: {LAMBDA_BINARY} has no handler {handler!r} (it has {sorted(handlers)})")
        elif owner in declared:
            errors.append(f"{where}: runs {owner}, as {declared[owner]} does already")
        else:
            declared[owner] = logical
        if meta.get("BuildMethod") != "rust-cargolambda":
            errors.append(f"{where}: Metadata.BuildMethod must be rust-cargolambda")
        for key, want in (("Runtime", "provided.al2023"), ("Architectures", ["arm64"])):
            if props.get(key) != want:
                errors.append(f"{where}: {key} is {props.get(key)!r}, expected {want!r}")
        code_uri = (TEMPLATE.parent / str(props.get("CodeUri", "."))).resolve()
        if code_uri != ws.root.resolve():
            errors.append(f"{where}: CodeUri {props.get('CodeUri')!r} is not the workspace root")
    for name in lambda_crates:
        if name not in handlers.values():
            errors.append(f"Lambda crate {name} ({lambda_crates[name]['dir'].relative_to(ws.root)}) is not a handler of {LAMBDA_BINARY}")
        elif name not in declared:
            errors.append(f"Lambda crate {name} ({lambda_crates[name]['dir'].relative_to(ws.root)}) has no function in the template")

    # per function
    for logical, res in template_fns.items():
        props = merged(res.get("Properties", {}), globals_)
        crate = ws.function_crate(res, globals_)
        if crate is None:
            continue
        where = f"{logical} ({crate})"
        own_src = ws.src(crate)
        closure = ws.closure(crate)
        all_src = "\n".join(ws.src(c) for c in closure)
        all_src_strings = "\n".join(ws.src(c, keep_strings=True) for c in closure)
        events = props.get("Events", {}) or {}

        # 2. triggers
        event_queues = []
        if "lambda_http::run" in own_src:
            integ = [
                r for r in resources.values()
                if r.get("Type") == "AWS::ApiGatewayV2::Integration"
                and ref_name(r["Properties"].get("IntegrationUri")) == logical
            ]
            if not integ:
                errors.append(f"{where}: an HTTP handler (lambda_http) but no API Gateway v2 integration targets it")
            for r in integ:
                if r["Properties"].get("PayloadFormatVersion") != "2.0":
                    errors.append(f"{where}: its API integration must use payload format 2.0 (lambda_http apigw_http)")
            perm = [
                r for r in resources.values()
                if r.get("Type") == "AWS::Lambda::Permission"
                and ref_name(r["Properties"].get("FunctionName")) == logical
                and r["Properties"].get("Principal") == "apigateway.amazonaws.com"
            ]
            if not perm:
                errors.append(f"{where}: API Gateway has no permission to invoke it")
        if "SqsEvent" in own_src:
            sqs_events = [e for e in events.values() if e.get("Type") == "SQS"]
            if not sqs_events:
                errors.append(f"{where}: an SQS handler without an SQS event source")
            for e in sqs_events:
                event_queues.append(ref_name(e["Properties"]["Queue"]))
                if "SqsBatchResponse" in own_src and "ReportBatchItemFailures" not in (
                    e["Properties"].get("FunctionResponseTypes") or []
                ):
                    errors.append(f"{where}: answers partial batch responses but its SQS event lacks ReportBatchItemFailures")
        if "EventBridgeEvent" in own_src and not any(e.get("Type") == "Schedule" for e in events.values()):
            errors.append(f"{where}: a scheduled handler (EventBridgeEvent) without a Schedule event")

        # 3. environment
        read = read_vars(all_src_strings)
        env = set((props.get("Environment", {}) or {}).get("Variables", {}) or {})
        for v in sorted(read - env):
            if v in PENDING_UNSET:
                warnings.append(f"{where}: reads {v}, deliberately not set: {PENDING_UNSET[v]}")
            else:
                errors.append(f"{where}: the code reads {v} but the template does not set it")
        for v in sorted(env - read):
            if v in PENDING_UNREAD and v not in workspace_reads:
                warnings.append(f"{where}: sets {v} that no code reads yet, tolerated: {PENDING_UNREAD[v]}")
            else:
                errors.append(f"{where}: sets {v} that no code of {crate} reads")

        # 4. IAM
        uses = USES.get(crate)
        if uses is None:
            errors.append(f"{where}: not in check_template.py's USES table")
            continue
        need: set[tuple[str, str]] = set()
        uses_store = "DynamoStore" in all_src
        if uses_store:
            ops = store_ops if uses["store"] == "all" else {
                op for op in store_ops if op.split("@")[0] in uses["store"]
            }
            for op in ops:
                name, _, on_index = op.partition("@")
                action = iam_action("dynamodb", name)
                need.add((action, "Table/index" if on_index else "Table"))
                if name == "transact_write_items":
                    need |= {(a, "Table") for a in transact_needs}
        if "DynamoStatsStore" in all_src and uses["store"] == "all":
            for op in stats_ops:
                need.add((iam_action("dynamodb", op), "Table"))
                if op == "transact_write_items":
                    need |= {(TRANSACT_ACTIONS[k], "Table") for k in stats_transact}
        if "DynamoConfigStore" in all_src:
            for op in config_read_ops:
                need.add((iam_action("dynamodb", op), "Table"))
        send_ops = set().union(*(ops for m, ops in queue_method_ops.items() if m.startswith("send")))
        for queue in uses["sends"]:
            for op in send_ops:
                need.add((iam_action("sqs", op), queue))
        if "secrets::" in own_src:
            for op in secrets_ops:
                need.add((iam_action("ssm", op), "ssm-parameters"))
            need.add(("kms:Decrypt", "kms"))
        have = granted(res.get("Properties", {}))
        for action, resource in sorted(need - have):
            errors.append(f"{where}: the code calls {action} on {resource}, which its policy does not allow")
        for action, resource in sorted(have - need):
            if (action, resource) in {("ssm:GetParameters", "ssm-parameters"), ("kms:Decrypt", "kms")} and crate == "leadrouter-notifier":
                warnings.append(f"{where}: allows {action} for the notifier's secrets (Slack/webhook references) before its code reads them")
                continue
            errors.append(f"{where}: its policy allows {action} on {resource}, which its code never calls")
        # SQS event sources: SAM grants the poller actions (receive, delete, change visibility,
        # attributes) on the named queue itself; it must be one of this template's queues.
        for q in set(event_queues):
            if q not in resources:
                errors.append(f"{where}: its SQS event source names {q}, not a queue of this template")
        for q in uses.get("releases", []):
            if q not in event_queues:
                errors.append(
                    f"{where}: the code calls {sorted(iam_action('sqs', o) for o in queue_method_ops.get('release', set()))} "
                    f"on {q}, which is not its SQS event source (no poller policy grants it)"
                )

    # Function URLs: a public one needs both permissions (since October 2025), and a public
    # lambda:InvokeFunction must be limited to calls through the URL, or anyone could invoke
    # the function with an event of their own making (say, one claiming an authorizer). A public
    # URL to a function that trusts the gateway (LEADROUTER_API_AUTH=gateway) is safe only if
    # its code scopes that trust to the gateway's authorizer context (GatewayAuthorized).
    perms = [r["Properties"] for r in resources.values() if r.get("Type") == "AWS::Lambda::Permission"]
    for p_ in perms:
        if p_.get("Principal") == "*" and p_.get("Action") == "lambda:InvokeFunction" and p_.get("InvokedViaFunctionUrl") is not True:
            errors.append(
                f"{ref_name(p_.get('FunctionName'))}: lambda:InvokeFunction granted to everyone without InvokedViaFunctionUrl: true"
            )
    for logical, res in resources.items():
        if res.get("Type") != "AWS::Lambda::Url" or res["Properties"].get("AuthType") != "NONE":
            continue
        fn = ref_name(res["Properties"].get("TargetFunctionArn"))
        mine = [p_ for p_ in perms if ref_name(p_.get("FunctionName")) == fn and p_.get("Principal") == "*"]
        if not any(p_.get("Action") == "lambda:InvokeFunctionUrl" and p_.get("FunctionUrlAuthType") == "NONE" for p_ in mine):
            errors.append(f"{logical}: a public function URL of {fn} without lambda:InvokeFunctionUrl (FunctionUrlAuthType NONE) for everyone")
        if not any(p_.get("Action") == "lambda:InvokeFunction" and p_.get("InvokedViaFunctionUrl") is True for p_ in mine):
            errors.append(f"{logical}: a public function URL of {fn} without lambda:InvokeFunction (InvokedViaFunctionUrl) for everyone")
        fn_res = resources.get(fn, {})
        crate = ws.function_crate(fn_res, globals_)
        env_vars = str((fn_res.get("Properties", {}).get("Environment", {}) or {}).get("Variables", {}))
        if crate and "LEADROUTER_API_AUTH" in env_vars and "GatewayAuthorized" not in ws.src(crate):
            errors.append(
                f"{logical}: {fn} trusts the gateway (LEADROUTER_API_AUTH) but its code never marks GatewayAuthorized: "
                "its admin routes would be refused, or open if that trust were unscoped"
            )

    # Table vs dynamo.rs
    table = next((r for r in resources.values() if r.get("Type") == "AWS::DynamoDB::Table"), None)
    if table is None:
        errors.append("no AWS::DynamoDB::Table in the template")
    else:
        p = table["Properties"]
        m = re.search(r"const INDEXES[^=]*=\s*&\[(.*?)\];", (aws / "dynamo.rs").read_text(), re.S)
        code_indexes = {
            name: (h, r) for name, h, r in re.findall(r'\(\s*"(\w+)"\s*,\s*"(\w+)"\s*,\s*"(\w+)"\s*\)', m.group(1) if m else "")
        }
        tpl_indexes = {}
        for g in p.get("GlobalSecondaryIndexes", []):
            keys = {k["KeyType"]: k["AttributeName"] for k in g["KeySchema"]}
            tpl_indexes[g["IndexName"]] = (keys.get("HASH"), keys.get("RANGE"))
            # create_table projects the keys and FILTER_ATTRIBUTES (less the index's own keys).
            fm = re.search(r'const FILTER_ATTRIBUTES[^=]*=\s*\[(.*?)\];', (aws / "dynamo.rs").read_text(), re.S)
            want = sorted(a for a in re.findall(r'"(\w+)"', fm.group(1) if fm else "") if a not in keys.values())
            proj = g.get("Projection", {})
            if proj.get("ProjectionType") != "INCLUDE" or sorted(proj.get("NonKeyAttributes", [])) != want:
                errors.append(f"table index {g['IndexName']}: projection must be INCLUDE {want} (create_table)")
        for name in sorted(set(code_indexes) | set(tpl_indexes)):
            if code_indexes.get(name) != tpl_indexes.get(name):
                errors.append(
                    f"table index {name}: dynamo.rs has {code_indexes.get(name)}, the template {tpl_indexes.get(name)}"
                )
        attrs = {a["AttributeName"] for a in p.get("AttributeDefinitions", [])}
        want_attrs = {"pk"} | {a for hr in code_indexes.values() for a in hr}
        if attrs != want_attrs:
            errors.append(f"table attribute definitions {sorted(attrs)} != the keys of dynamo.rs {sorted(want_attrs)}")
        if [k["AttributeName"] for k in p.get("KeySchema", [])] != ["pk"]:
            errors.append("table key must be pk alone")
        ttl = re.search(r'TimeToLiveSpecification::builder\(\)\s*\.attribute_name\("(\w+)"\)', (aws / "dynamo.rs").read_text())
        if ttl and p.get("TimeToLiveSpecification", {}).get("AttributeName") != ttl.group(1):
            errors.append(f"table TTL attribute must be {ttl.group(1)} (create_table)")
        if p.get("BillingMode") != "PAY_PER_REQUEST":
            errors.append("table billing must be PAY_PER_REQUEST (on demand)")
    return errors, warnings


def self_test(ws: Workspace) -> None:
    """The check fails when the template drifts from the code."""
    base = load_template()
    errors, _ = check(base, ws)
    assert not errors, errors

    def statement(t: dict, fn: str, sid: str) -> dict:
        policy = t["Resources"][fn]["Properties"]["Policies"][0]
        return next(s for s in policy["Statement"] if s["Sid"] == sid)

    cases = []
    t = copy.deepcopy(base)
    statement(t, "RouterFunction", "Table")["Action"].remove("dynamodb:TransactWriteItems")
    cases.append((t, "RouterFunction (leadrouter-router): the code calls dynamodb:TransactWriteItems on Table"))
    t = copy.deepcopy(base)
    statement(t, "IngestFunction", "Queues")["Resource"].remove({"Fn::GetAtt": ["IntakeQueue", "Arn"]})
    cases.append((t, "IngestFunction (leadrouter-ingest): the code calls sqs:SendMessage on IntakeQueue"))
    t = copy.deepcopy(base)
    statement(t, "SweeperFunction", "Table")["Action"].append("dynamodb:Scan")
    cases.append((t, "its policy allows dynamodb:Scan on Table, which its code never calls"))
    t = copy.deepcopy(base)
    del t["Resources"]["RouterFunction"]["Properties"]["Environment"]["Variables"]["LEADROUTER_TABLE"]
    cases.append((t, "the code reads LEADROUTER_TABLE but the template does not set it"))
    t = copy.deepcopy(base)
    t["Resources"]["Table"]["Properties"]["GlobalSecondaryIndexes"].pop()
    cases.append((t, "table index"))
    t = copy.deepcopy(base)
    t["Resources"]["RouterFunction"]["Properties"]["Events"]["Intake"]["Properties"]["FunctionResponseTypes"] = []
    cases.append((t, "lacks ReportBatchItemFailures"))
    t = copy.deepcopy(base)
    del t["Resources"]["SweeperFunction"]
    cases.append((t, "Lambda crate leadrouter-sweeper (functions/sweeper) has no function in the template"))
    t = copy.deepcopy(base)
    t["Resources"]["RouterFunction"]["Properties"]["Handler"] = "routr"
    cases.append((t, "RouterFunction (routr): leadrouter-lambda has no handler 'routr'"))
    t = copy.deepcopy(base)
    t["Resources"]["NotifierFunction"]["Properties"]["Handler"] = "router"
    cases.append((t, "NotifierFunction (router): runs leadrouter-router, as RouterFunction does already"))
    t = copy.deepcopy(base)
    del t["Resources"]["IngestFunctionUrlInvokePermission"]["Properties"]["InvokedViaFunctionUrl"]
    cases.append((t, "lambda:InvokeFunction granted to everyone without InvokedViaFunctionUrl"))
    t = copy.deepcopy(base)
    del t["Resources"]["IngestFunctionUrlPermission"]
    cases.append((t, "IngestFunctionUrl: a public function URL of IngestFunction without lambda:InvokeFunctionUrl"))
    for t, expected in cases:
        errors, _ = check(t, ws)
        assert any(expected in e for e in errors), f"self-test: expected an error containing {expected!r}, got {errors}"
    print(f"self-test: {len(cases)} deliberate drifts (a removed IAM action, queue, variable, index, "
          "batch response type, function, function URL permission; an extra action; a public "
          "invoke not limited to the function URL; an unknown handler, a handler run twice) were "
          "each reported")


def main() -> int:
    ws = Workspace()
    if "--lambda-packages" in sys.argv:
        # The function package to build: the one binary every function runs.
        print(LAMBDA_BINARY)
        return 0
    if "--self-test" in sys.argv:
        self_test(ws)
        return 0
    errors, warnings = check(load_template(), ws)
    for w in warnings:
        print(f"warning: {w}")
    for e in errors:
        print(f"error: {e}")
    fns = [k for k, r in load_template()["Resources"].items() if r.get("Type") == "AWS::Serverless::Function"]
    if errors:
        print(f"template vs code: {len(errors)} problem(s)")
        return 1
    print(f"template vs code: ok ({len(fns)} functions: handlers, triggers, environment, IAM; table indexes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
