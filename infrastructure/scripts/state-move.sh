#!/usr/bin/env bash
# Move a resource to a new address in an environment's state (after a rename or a refactor into a module).
set -euo pipefail

usage() {
  cat <<'HELP'
usage: infrastructure/scripts/state-move.sh ENV FROM TO [--yes]

Move state from address FROM to address TO in infrastructure/envs/ENV, so a renamed or
moved resource is kept instead of destroyed and created again. Runs a dry run first and
shows it; asks before moving unless --yes. A backup of the state is written first to
out/state-backups/ENV-<time>.tfstate.

Prefer a `moved { from = ... to = ... }` block in the configuration when the move should
happen for every copy of the state; use this script for one-off repairs.

  ENV    dev | staging | prod (a folder under infrastructure/envs/)
  FROM   current address, e.g. 'module.node_group_spot'
  TO     new address, e.g. 'module.node_group["spot"]' (after moving to for_each)

Environment:
  TOFU   the binary to run (default: tofu from `invoke tools.install`; `terraform` works too)
HELP
}

# shellcheck source=infrastructure/scripts/common.sh
. "$(dirname "$0")/common.sh"

need_args 3 "$@"

env_name=$1 from=$2 to=$3 yes=${4:-}
dir=$(env_dir "$env_name")
tofu=$(tofu_init "$dir")
backups="$(dirname "$0")/../../out/state-backups"
mkdir -p "$backups"
backup="$backups/$env_name-$(date -u +%Y%m%dT%H%M%SZ).tfstate"
"$tofu" -chdir="$dir" state pull > "$backup"
echo "state backup: $backup"
"$tofu" -chdir="$dir" state mv -dry-run "$from" "$to"
confirm "$yes" "move $from to $to in $env_name?"
"$tofu" -chdir="$dir" state mv "$from" "$to"
