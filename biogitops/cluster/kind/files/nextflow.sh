#!/bin/sh
# Nextflow as bio-gitops builds it: the pinned jars of pins.yaml images.nextflow on Debian's Java,
# without upstream's self-installing launcher (it would download Nextflow on first use).
# NXF_OFFLINE=true (set in the image): no plugin, pipeline or update is fetched from the network.
set -eu
: "${NXF_HOME:=${HOME:-/tmp}/.nextflow}"
export NXF_HOME
exec java ${NXF_OPTS:-} -Djava.awt.headless=true -cp '/opt/nextflow/lib/*' nextflow.cli.Launcher "$@"
