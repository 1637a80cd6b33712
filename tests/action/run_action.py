#!/usr/bin/env python3
"""Runs a composite action (action.yml) the way the GitHub runner does, and prints its outputs.

What it reproduces, because action.yml and its scripts depend on it:

* inputs: defaults from action.yml (evaluated, so `${{ github.token }}` works), `--input` overrides;
* `${{ }}` expressions in a step's `env:`, `with:`, `if:`, `working-directory:` and in the action's
  `outputs:`; contexts inputs, github, env, runner, steps (`steps.ID.outputs.X`, `.outcome`);
  operators `|| && == != < <= > >= !` and parentheses, with GitHub's loose typing (case-insensitive
  string equality, `||` returning the first truthy operand); functions success(), failure(),
  always(), cancelled(), contains(), startsWith(), endsWith(), format(), toJSON(), fromJSON();
* `run:` executed with the step's `shell` (bash = `bash --noprofile --norc -eo pipefail {0}`) and
  `env`, in a clean environment: the caller's GITHUB_*/RUNNER_*/ACTIONS_*/INPUT_*/DR_* variables
  never leak in. GITHUB_ACTION_REF and GITHUB_ACTION_REPOSITORY are empty, as the real runner
  leaves them in composite steps (actions/runner#2473);
* per-step GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH, GITHUB_STEP_SUMMARY and GITHUB_STATE files
  (`name=value` and `name<<DELIM` heredoc forms); GITHUB_ENV values reach later steps, GITHUB_PATH
  entries are prepended to PATH for later steps;
* a failing step skips the following ones (unless their `if:` says otherwise) and fails the action,
  unless it has `continue-on-error: true`.

Step logs go to stderr; stdout carries only the outputs as one JSON object, so tests can parse it.
Exit status: 0 when the action succeeded, 1 when a step failed, 2 for bad usage.

`--prebuilt-bin PATH` places a binary in the tool cache exactly where scripts/install.sh looks for a
verified release of the version being installed (see its header for the layout), so no download
happens; a release base URL that refuses connections is set too, so a cache miss fails at once
instead of reaching the network.

Example:
    run_action.py --input command=demo --prebuilt-bin target/debug/dr-action --workdir /tmp/w
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]

# --------------------------------------------------------------------------------------------------
# Expressions
# --------------------------------------------------------------------------------------------------


class ExprError(Exception):
    pass


class UsageError(Exception):
    """Bad arguments or an action this runner does not support: exit status 2."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:[^']|'')*')
      | (?P<num>-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?))
      | (?P<op>\|\||&&|==|!=|<=|>=|<|>|!|\(|\)|\[|\]|,|\.|\*)
      | (?P<ident>[A-Za-z_][A-Za-z0-9_-]*)
    )""",
    re.VERBOSE,
)


def _tokenize(src: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    src = src.strip()
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise ExprError(f"cannot parse expression at {src[pos:]!r}")
        pos = m.end()
        kind = m.lastgroup
        tokens.append((kind, m.group(kind)))
    return tokens


def _truthy(v: Any) -> bool:
    if v is None or v is False:
        return False
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return not (v == 0 or math.isnan(v))
    if isinstance(v, str):
        return v != ""
    return True


def _to_number(v: Any) -> float:
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        s = v.strip()
        if s == "":
            return 0.0
        try:
            return float(int(s, 16)) if s.lower().startswith("0x") else float(s)
        except ValueError:
            return math.nan
    return math.nan


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if type(a) is type(b) and isinstance(a, (dict, list)):
        return a is b
    if a is None and b is None:
        return True
    return _to_number(a) == _to_number(b)


def _compare(a: Any, b: Any, op: str) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        x, y = a.lower(), b.lower()
    else:
        x, y = _to_number(a), _to_number(b)
        if math.isnan(x) or math.isnan(y):
            return False
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def to_string(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, (dict, list)):
        return json.dumps(v, indent=2)
    return str(v)


class _Parser:
    def __init__(self, src: str, ctx: dict[str, Any], status: dict[str, bool]):
        self.toks = _tokenize(src)
        self.i = 0
        self.ctx = ctx
        self.status = status
        self.src = src

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise ExprError(f"expected {value or 'a token'} in {self.src!r}")
        self.i += 1
        return tok

    def parse(self) -> Any:
        v = self.or_expr()
        if self.peek() is not None:
            raise ExprError(f"unexpected {self.peek()[1]!r} in {self.src!r}")
        return v

    def or_expr(self) -> Any:
        v = self.and_expr()
        while self.peek() == ("op", "||"):
            self.take()
            rhs = self.and_expr()
            v = v if _truthy(v) else rhs
        return v

    def and_expr(self) -> Any:
        v = self.cmp_expr()
        while self.peek() == ("op", "&&"):
            self.take()
            rhs = self.cmp_expr()
            v = rhs if _truthy(v) else v
        return v

    def cmp_expr(self) -> Any:
        v = self.unary()
        while self.peek() and self.peek()[1] in ("==", "!=", "<", "<=", ">", ">="):
            op = self.take()[1]
            rhs = self.unary()
            if op == "==":
                v = _equal(v, rhs)
            elif op == "!=":
                v = not _equal(v, rhs)
            else:
                v = _compare(v, rhs, op)
        return v

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not _truthy(self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Any:
        kind, val = self.take()
        if kind == "str":
            return val[1:-1].replace("''", "'")
        if kind == "num":
            return _to_number(val)
        if (kind, val) == ("op", "("):
            v = self.or_expr()
            self.take(")")
            return v
        if kind == "ident":
            low = val.lower()
            if low in ("true", "false"):
                return low == "true"
            if low == "null":
                return None
            if self.peek() == ("op", "("):
                return self.call(low)
            if val not in self.ctx:
                raise ExprError(f"unknown context {val!r} in {self.src!r}")
            return self.ctx[val]
        raise ExprError(f"unexpected {val!r} in {self.src!r}")

    def postfix(self, v: Any) -> Any:
        while True:
            tok = self.peek()
            if tok == ("op", "."):
                self.take()
                name = self.take()[1]
                v = _index(v, name)
            elif tok == ("op", "["):
                self.take()
                key = self.or_expr()
                self.take("]")
                v = _index(v, key)
            else:
                return v

    def call(self, name: str) -> Any:
        self.take("(")
        args = []
        if self.peek() != ("op", ")"):
            args.append(self.or_expr())
            while self.peek() == ("op", ","):
                self.take()
                args.append(self.or_expr())
        self.take(")")
        if name in ("success", "failure", "always", "cancelled"):
            return {
                "success": self.status["success"],
                "failure": not self.status["success"],
                "always": True,
                "cancelled": False,
            }[name]
        if name == "contains":
            hay, needle = args
            if isinstance(hay, list):
                return any(_equal(x, needle) for x in hay)
            return to_string(needle).lower() in to_string(hay).lower()
        if name == "startswith":
            return to_string(args[0]).lower().startswith(to_string(args[1]).lower())
        if name == "endswith":
            return to_string(args[0]).lower().endswith(to_string(args[1]).lower())
        if name == "format":
            fmt = to_string(args[0])
            return re.sub(r"\{(\d+)\}", lambda m: to_string(args[1 + int(m.group(1))]), fmt)
        if name == "tojson":
            return json.dumps(args[0], indent=2)
        if name == "fromjson":
            return json.loads(to_string(args[0]))
        if name == "join":
            sep = to_string(args[1]) if len(args) > 1 else ","
            return sep.join(to_string(x) for x in args[0]) if isinstance(args[0], list) else to_string(args[0])
        raise ExprError(f"unsupported function {name}() in {self.src!r}")


def _index(v: Any, key: Any) -> Any:
    if isinstance(v, dict):
        if key in v:
            return v[key]
        low = to_string(key).lower()  # context property names are case-insensitive
        for k, val in v.items():
            if k.lower() == low:
                return val
        return None
    if isinstance(v, list) and isinstance(key, (int, float)):
        i = int(key)
        return v[i] if 0 <= i < len(v) else None
    return None


def evaluate(expr: str, ctx: dict[str, Any], status: dict[str, bool] | None = None) -> Any:
    return _Parser(expr, ctx, status or {"success": True}).parse()


_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def substitute(value: Any, ctx: dict[str, Any], status: dict[str, bool] | None = None) -> str:
    """Replaces every ${{ expr }} in a YAML scalar, as the runner does for env:/with:/outputs:."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return to_string(value)
    return _TEMPLATE.sub(lambda m: to_string(evaluate(m.group(1), ctx, status)), value)


_STATUS_FUNCS = re.compile(r"\b(success|failure|always|cancelled)\s*\(", re.IGNORECASE)


def step_condition(cond: Any, ctx: dict[str, Any], status: dict[str, bool]) -> bool:
    """`if:` semantics: bare or ${{ }}-wrapped; success() && … unless a status function is used."""
    if cond is None or cond == "":
        return status["success"]
    if isinstance(cond, bool):
        return cond and status["success"]
    text = str(cond).strip()
    m = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.DOTALL)
    if m:
        text = m.group(1)
    elif "${{" in text:
        text = "'" + substitute(text, ctx, status).replace("'", "''") + "'"
    if not _STATUS_FUNCS.search(text):
        text = f"success() && ({text})"
    return _truthy(evaluate(text, ctx, status))


# --------------------------------------------------------------------------------------------------
# Runner files
# --------------------------------------------------------------------------------------------------


def parse_file_commands(path: Path) -> dict[str, str]:
    """Parses GITHUB_OUTPUT / GITHUB_ENV: `name=value` lines and `name<<DELIM` … `DELIM` blocks."""
    result: dict[str, str] = {}
    if not path.exists():
        return result
    lines = path.read_text(encoding="utf-8").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r")
        i += 1
        if not line.strip():
            continue
        heredoc = re.fullmatch(r"([^=<]+)<<(.+)", line)
        if heredoc and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = heredoc.group(1), heredoc.group(2)
            body = []
            while i < len(lines) and lines[i].rstrip("\r") != delim:
                body.append(lines[i].rstrip("\r"))
                i += 1
            if i >= len(lines):
                raise ValueError(f"{path}: missing delimiter {delim!r} for {name!r}")
            i += 1
            result[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            result[name] = value
        else:
            raise ValueError(f"{path}: invalid line {line!r}")
    return result


SHELLS = {
    "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"],
    "sh": ["sh", "-e", "{0}"],
    "python": ["python3", "{0}"],
}

LEAKY_PREFIXES = ("GITHUB_", "RUNNER_", "ACTIONS_", "INPUT_", "DR_", "STATE_")


def runner_arch() -> tuple[str, str]:
    """(runner.arch, the tool-cache folder install.sh uses)."""
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return "X64", "x64"
    if machine in ("aarch64", "arm64"):
        return "ARM64", "arm64"
    raise UsageError(f"unsupported machine {machine}")


# --------------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------------


def place_prebuilt(binary: Path, tool_cache: Path, version: str, arch_dir: str) -> None:
    """Lays out the tool cache as scripts/install.sh leaves it after installing a verified release."""
    if not re.fullmatch(r"v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]*)?|[0-9a-f]{40}", version):
        raise UsageError(
            f"--prebuilt-bin needs an exact version (v1.2.3), got {version!r}: "
            "install.sh would revalidate a moving ref over the network"
        )
    cache = tool_cache / "dr-action" / version / arch_dir
    (cache / "bin").mkdir(parents=True, exist_ok=True)
    target = cache / "bin" / "dr-action"
    shutil.copyfile(binary, target)
    target.chmod(0o755)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    (cache / "install-record").write_text(
        f"bin_sha256={digest}\nsource=release\nasset_sha256=prebuilt\n", encoding="utf-8"
    )


def key_values(pairs: list[str], what: str) -> dict[str, str]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise UsageError(f"{what} expects NAME=VALUE, got {pair!r}")
        k, v = pair.split("=", 1)
        out[k] = v
    return out


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    scratch = Path(tempfile.mkdtemp(prefix="run-action-"))
    try:
        return run_in(args, scratch)
    finally:
        if args.keep:
            log(f"--- kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def run_in(args: argparse.Namespace, scratch: Path) -> int:
    action_dir = Path(args.action_dir).resolve()
    action = yaml.safe_load((action_dir / "action.yml").read_text(encoding="utf-8"))
    runs = action.get("runs") or {}
    if runs.get("using") != "composite":
        raise UsageError("only composite actions are supported")

    workdir = Path(args.workdir).resolve() if args.workdir else scratch / "workspace"
    workdir.mkdir(parents=True, exist_ok=True)
    runner_temp = scratch / "runner-temp"
    runner_temp.mkdir()
    tool_cache = Path(args.tool_cache).resolve() if args.tool_cache else scratch / "tool-cache"
    tool_cache.mkdir(parents=True, exist_ok=True)
    files_dir = scratch / "files"
    files_dir.mkdir()

    arch, arch_dir = runner_arch()
    os_name = {"Linux": "Linux", "Darwin": "macOS"}.get(platform.system(), platform.system())
    github: dict[str, Any] = {
        "action_path": str(action_dir),
        "action_ref": args.action_ref,
        "action_repository": args.action_repository,
        "repository": "acme/app",
        "repository_owner": "acme",
        "workspace": str(workdir),
        "run_id": "4242",
        "run_number": "7",
        "run_attempt": "1",
        "server_url": "https://github.com",
        "api_url": "https://api.github.com",
        "graphql_url": "https://api.github.com/graphql",
        "event_name": "workflow_dispatch",
        "ref": "refs/heads/main",
        "ref_name": "main",
        "sha": "0" * 40,
        "actor": "octocat",
        "job": "dr",
        "workflow": "dr",
        "token": "ghs_fake_token_for_tests",
    }
    github.update(key_values(args.github, "--github"))
    runner = {"os": os_name, "arch": arch, "temp": str(runner_temp), "tool_cache": str(tool_cache), "name": "local"}

    job_env = key_values(args.env, "--env")
    if args.prebuilt_bin:
        # Port 9 (discard) on loopback refuses connections: a cache miss fails fast, offline.
        job_env.setdefault("DR_RELEASE_BASE_URL", "http://127.0.0.1:9/releases")
    added_env: dict[str, str] = {}
    path_prepend: list[str] = []

    base_env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKY_PREFIXES)}
    base_env.update(
        {
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_ACTION_PATH": str(action_dir),
            "GITHUB_ACTION_REF": "",  # empty in composite steps, like the real runner
            "GITHUB_ACTION_REPOSITORY": "",
            "GITHUB_WORKSPACE": str(workdir),
            "GITHUB_REPOSITORY": github["repository"],
            "GITHUB_REPOSITORY_OWNER": github["repository_owner"],
            "GITHUB_RUN_ID": github["run_id"],
            "GITHUB_RUN_NUMBER": github["run_number"],
            "GITHUB_RUN_ATTEMPT": github["run_attempt"],
            "GITHUB_SERVER_URL": github["server_url"],
            "GITHUB_API_URL": github["api_url"],
            "GITHUB_GRAPHQL_URL": github["graphql_url"],
            "GITHUB_EVENT_NAME": github["event_name"],
            "GITHUB_REF": github["ref"],
            "GITHUB_REF_NAME": github["ref_name"],
            "GITHUB_SHA": github["sha"],
            "GITHUB_ACTOR": github["actor"],
            "GITHUB_JOB": github["job"],
            "GITHUB_WORKFLOW": github["workflow"],
            "RUNNER_OS": os_name,
            "RUNNER_ARCH": arch,
            "RUNNER_TEMP": str(runner_temp),
            "RUNNER_TOOL_CACHE": str(tool_cache),
        }
    )

    # Inputs: declared defaults (expressions evaluated), then --input; unknown inputs are an error.
    given = key_values(args.input, "--input")
    declared = action.get("inputs") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise UsageError(f"unknown input(s) {', '.join(unknown)}; declared: {', '.join(declared)}")
    inputs: dict[str, str] = {}
    for name, spec in declared.items():
        spec = spec or {}
        if name in given:
            inputs[name] = given[name]
        else:
            inputs[name] = substitute(spec.get("default", ""), {"github": github, "runner": runner, "env": dict(job_env)})
            if spec.get("required") and name not in given and inputs[name] == "":
                log(f"::warning::input {name} is required")

    if args.prebuilt_bin:
        if not os.access(args.prebuilt_bin, os.X_OK) or not Path(args.prebuilt_bin).is_file():
            raise UsageError(f"--prebuilt-bin {args.prebuilt_bin}: not an executable file")
        version = inputs.get("version") or github["action_ref"]
        place_prebuilt(Path(args.prebuilt_bin), tool_cache, version, arch_dir)

    steps_ctx: dict[str, dict[str, Any]] = {}
    status = {"success": True}
    summaries: list[str] = []

    def context() -> dict[str, Any]:
        return {
            "inputs": inputs,
            "github": github,
            "runner": runner,
            "env": {**job_env, **added_env},
            "steps": steps_ctx,
            "job": {"status": "success" if status["success"] else "failure"},
            "matrix": {},
            "strategy": {},
        }

    for index, step in enumerate(runs.get("steps") or []):
        step_id = step.get("id") or f"__step{index}"
        title = step.get("name") or step_id
        record: dict[str, Any] = {"outputs": {}, "outcome": "skipped", "conclusion": "skipped"}
        steps_ctx[step_id] = record
        if not step_condition(step.get("if"), context(), status):
            log(f"--- skip {title}")
            continue
        if "uses" in step:
            raise UsageError(f"step {title}: `uses:` steps are not supported")
        shell = step.get("shell")
        if not shell:
            raise UsageError(f"step {title}: composite run steps need `shell:`")

        ctx = context()
        step_env = {k: substitute(v, ctx, status) for k, v in (step.get("env") or {}).items()}
        files = {}
        for var in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY", "GITHUB_STATE"):
            f = files_dir / f"{var.lower()}_{index}_{uuid.uuid4().hex[:8]}"
            f.touch()
            files[var] = f
        env = {**base_env, **job_env, **added_env, **step_env, **{k: str(v) for k, v in files.items()}}
        env["PATH"] = os.pathsep.join(path_prepend + [env.get("PATH", os.defpath)])

        script = files_dir / f"step_{index}{'.py' if shell == 'python' else '.sh'}"
        script.write_text(step["run"], encoding="utf-8")
        argv = [a.replace("{0}", str(script)) for a in SHELLS.get(shell, shell.split())]
        cwd = workdir / substitute(step.get("working-directory", ""), ctx, status)

        log(f"--- run {title}: {' '.join(argv[:-1])}")
        proc = subprocess.run(argv, cwd=cwd, env=env, stdout=sys.stderr, stderr=sys.stderr)
        record["outputs"] = parse_file_commands(files["GITHUB_OUTPUT"])
        added_env.update(parse_file_commands(files["GITHUB_ENV"]))
        new_paths = [p for p in files["GITHUB_PATH"].read_text(encoding="utf-8").splitlines() if p.strip()]
        path_prepend[:0] = list(reversed(new_paths))
        summary = files["GITHUB_STEP_SUMMARY"].read_text(encoding="utf-8")
        if summary:
            summaries.append(summary)

        record["outcome"] = "success" if proc.returncode == 0 else "failure"
        continue_on_error = _truthy(step.get("continue-on-error", False))
        record["conclusion"] = "success" if proc.returncode == 0 or continue_on_error else "failure"
        if proc.returncode != 0:
            log(f"--- {title} failed with exit code {proc.returncode}")
            if not continue_on_error:
                status["success"] = False

    ctx = context()
    outputs = {name: substitute((spec or {}).get("value", ""), ctx, status) for name, spec in (action.get("outputs") or {}).items()}
    if args.summary_out:
        Path(args.summary_out).write_text("".join(summaries), encoding="utf-8")
    print(json.dumps(outputs, indent=2, sort_keys=True))
    return 0 if status["success"] else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--action-dir", default=str(ROOT), help="folder holding action.yml (default: the repo)")
    p.add_argument("--input", action="append", default=[], metavar="NAME=VALUE", help="an action input")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="job-level env (also the env context)")
    p.add_argument("--github", action="append", default=[], metavar="KEY=VALUE", help="override a github context value")
    p.add_argument("--action-ref", default="v0.0.0-local", help="github.action_ref (default v0.0.0-local)")
    p.add_argument("--action-repository", default="org/dr-action", help="github.action_repository")
    p.add_argument("--prebuilt-bin", metavar="PATH", help="binary to place in the tool cache as an installed release")
    p.add_argument("--workdir", help="GITHUB_WORKSPACE and the steps' working directory (default: a temp dir)")
    p.add_argument("--tool-cache", help="RUNNER_TOOL_CACHE (default: a temp dir)")
    p.add_argument("--summary-out", metavar="FILE", help="write the steps' job summaries here")
    p.add_argument("--keep", action="store_true", help="keep the temp folder (runner files, scripts)")
    args = p.parse_args()
    try:
        return run(args)
    except (ExprError, UsageError) as e:
        log(f"run_action.py: {e}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
