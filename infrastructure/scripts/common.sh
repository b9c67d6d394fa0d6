#!/usr/bin/env bash
# Shared by the state scripts here (sourced, not run): errors, the environment's folder, tofu.

die() { echo "error: $*" >&2; exit 1; }

# need_args MIN "$@": --help prints the caller's usage and exits 0; fewer than MIN arguments exit 2
need_args() {
  local min=$1
  shift
  case "${1:-}" in
    -h | --help) usage; exit 0 ;;
  esac
  [ $# -ge "$min" ] || { usage >&2; exit 2; }
}

# env_dir ENV: print infrastructure/envs/ENV, or fail naming the known environments
env_dir() {
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  [ -d "$root/envs/$1" ] || die "unknown environment '$1': no $root/envs/$1 (known: $(cd "$root/envs" && echo *))"
  echo "$root/envs/$1"
}

# tofu_init DIR: print the binary to run ($TOFU, default tofu) after initialising DIR's backend
tofu_init() {
  local tofu=${TOFU:-tofu}
  command -v "$tofu" > /dev/null ||
    die "$tofu not found: run \`invoke tools.install --only tofu\` and put ~/.cache/bio-gitops/tools/bin on PATH"
  "$tofu" -chdir="$1" init -input=false > /dev/null || die "$tofu init failed in $1 (credentials? state bucket?)"
  echo "$tofu"
}

# confirm YES QUESTION: go on when YES is --yes or the user answers y
confirm() {
  [ -z "$1" ] || [ "$1" = "--yes" ] || die "unexpected argument '$1' (only --yes)"
  [ "$1" = "--yes" ] && return 0
  local answer
  read -r -p "$2 [y/N] " answer
  [ "$answer" = "y" ] || die "stopped: nothing changed"
}
