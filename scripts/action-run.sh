#!/usr/bin/env bash
# Builds the dr-action command line from the action's inputs and runs it (action.yml, step "dr").
#
# The inputs arrive as environment variables, set in action.yml's `env:`:
#   DR_COMMAND      subcommand, possibly two words ("policy audit", "config check"); default run
#   DR_SCHEDULE     --schedule for run / check (required there)
#   DR_CONFIG       --config PATH (global flag, placed before the subcommand); empty = default lookup
#   DR_INPUT_CHAOS  true/1/yes (any case) adds --chaos to run / check
#   DR_ARGS         extra arguments, split on whitespace into an array: quotes are not interpreted
#                   and nothing is expanded (no globbing, no variables), so nothing is evaluated
# The binary reads GITHUB_TOKEN, DR_AWS_ROLE_ARN, DR_AWS_REGION, SLACK_WEBHOOK_URL and DR_CHAOS from
# the environment itself, and writes the step outputs to $GITHUB_OUTPUT.
#
# Bash 3.2 compatible (macOS): no ${x,,}, and empty arrays are expanded as ${a[@]+"${a[@]}"}.
set -euo pipefail

usage_error() {
  printf '::error title=dr-action::%s\n' "$*"
  exit 2
}

is_true() {
  case "$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')" in
    true | 1 | yes) return 0 ;;
    *) return 1 ;;
  esac
}

# `read -d ''` reads up to the end of the input (returning 1 there, hence `|| true`) and splits
# on IFS: spaces, tabs and newlines.
command_words=()
read -r -d '' -a command_words <<<"${DR_COMMAND:-run}" || true
extra_args=()
read -r -d '' -a extra_args <<<"${DR_ARGS:-}" || true

[ "${#command_words[@]}" -gt 0 ] || command_words=(run)
subcommand=${command_words[0]}
case "$subcommand" in
  run | check | kpi | badge | publish | notify | plan | demo | policy | config) ;;
  *) usage_error "unknown command '$subcommand': use run, check, kpi, badge, publish, notify, plan, demo, 'policy render|audit' or 'config check|schema'" ;;
esac

args=()
if [ -n "${DR_CONFIG:-}" ]; then
  args+=(--config "$DR_CONFIG")
fi
args+=("${command_words[@]}")

case "$subcommand" in
  run | check)
    if [ -z "${DR_SCHEDULE:-}" ]; then
      usage_error "input 'schedule' is required for command '$subcommand' (weekly, monthly or quarterly)"
    fi
    args+=(--schedule "$DR_SCHEDULE")
    if is_true "${DR_INPUT_CHAOS:-false}"; then
      args+=(--chaos)
    fi
    ;;
  *)
    if [ -n "${DR_SCHEDULE:-}" ]; then
      printf '::notice title=dr-action::input schedule is ignored by command %s\n' "$subcommand"
    fi
    ;;
esac
args+=(${extra_args[@]+"${extra_args[@]}"})

printf 'dr-action %s\n' "${args[*]}"
exec dr-action "${args[@]}"
