#!/usr/bin/env bash
# Adopt a resource that already exists in AWS into an environment's state (tofu import).
set -euo pipefail

usage() {
  cat <<'HELP'
usage: infrastructure/scripts/state-import.sh ENV ADDRESS ID [--yes]

Import an existing AWS resource into the state of infrastructure/envs/ENV, so that OpenTofu
manages it from now on instead of trying to create it again. Shows the plan for ADDRESS after
the import; asks before importing unless --yes.

  ENV       dev | staging | prod (a folder under infrastructure/envs/)
  ADDRESS   the resource address in the configuration, e.g.
            'module.vpc.module.vpc.aws_vpc.this[0]'
  ID        the provider's import ID, e.g. vpc-0123456789abcdef0

Environment:
  TOFU      the binary to run (default: tofu from `invoke tools.install`; `terraform` works too)

Needs AWS credentials for the environment's account and its state bucket.
Example:
  infrastructure/scripts/state-import.sh dev 'module.vpc.aws_kms_key.flow_logs' 1234abcd-12ab-34cd-56ef-1234567890ab
HELP
}

# shellcheck source=infrastructure/scripts/common.sh
. "$(dirname "$0")/common.sh"

need_args 3 "$@"

env_name=$1 address=$2 id=$3 yes=${4:-}
dir=$(env_dir "$env_name")
tofu=$(tofu_init "$dir")
if "$tofu" -chdir="$dir" state list "$address" 2> /dev/null | grep -qxF "$address"; then
  die "$address is already in the state of $env_name; nothing to import"
fi
confirm "$yes" "import $id as $address into $env_name?"
"$tofu" -chdir="$dir" import -input=false "$address" "$id"
"$tofu" -chdir="$dir" plan -input=false -target="$address"
