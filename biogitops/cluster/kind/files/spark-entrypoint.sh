#!/bin/bash
# The entrypoint of bio-gitops' Spark images (pins.yaml images.spark and images.spark-operator).
#
#   entrypoint.sh driver ARGS...    a driver pod (spark-submit on Kubernetes writes `driver
#                                   --properties-file ... --class ... APP` into its pod spec)
#   entrypoint.sh executor          an executor pod (the driver passes everything in SPARK_* env)
#   entrypoint.sh operator ARGS...  the Kubeflow Spark operator (controller or webhook)
#   entrypoint.sh CMD ARGS...       anything else, run as it is
#
# Pods run as an arbitrary uid (a SparkApplication's securityContext): Hadoop's login inside
# Spark needs a passwd entry for it, so one is lent through nss_wrapper when /etc/passwd has none
# (in /tmp: the operator's pods have a read-only root).
set -euo pipefail

uid="$(id -u)"
gid="$(id -g)"
if ! getent passwd "$uid" >/dev/null; then
  wrapper="$(find /usr/lib -name libnss_wrapper.so -print -quit)"
  # a read-only root without a writable /tmp (the operator's webhook) runs nothing that needs it
  if [ -n "$wrapper" ] && NSS_WRAPPER_PASSWD="$(mktemp 2>/dev/null)" && NSS_WRAPPER_GROUP="$(mktemp 2>/dev/null)"; then
    echo "spark:x:${uid}:${gid}:${SPARK_USER_NAME:-spark}:${HOME:-/tmp}:/bin/false" >"$NSS_WRAPPER_PASSWD"
    echo "spark:x:${gid}:" >"$NSS_WRAPPER_GROUP"
    export LD_PRELOAD="$wrapper" NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
  fi
fi

classpath="${SPARK_CLASSPATH:+${SPARK_CLASSPATH}:}${SPARK_HOME}/jars/*"
if [ -n "${SPARK_EXTRA_CLASSPATH:-}" ]; then
  classpath="${classpath}:${SPARK_EXTRA_CLASSPATH}"
fi

mode="${1:-}"
case "$mode" in
  driver)
    shift
    exec "${SPARK_HOME}/bin/spark-submit" \
      --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS}" \
      --conf "spark.executorEnv.SPARK_DRIVER_POD_IP=${SPARK_DRIVER_BIND_ADDRESS}" \
      --deploy-mode client \
      "$@"
    ;;
  executor)
    shift
    # the driver hands JVM options over as SPARK_JAVA_OPT_0, SPARK_JAVA_OPT_1, ... in that order
    java_opts=()
    while IFS= read -r name; do
      java_opts+=("${!name}")
    done < <(compgen -e | grep '^SPARK_JAVA_OPT_' | sort -t_ -k4 -n)
    exec "${JAVA_HOME}/bin/java" "${java_opts[@]}" \
      -Xms"${SPARK_EXECUTOR_MEMORY}" -Xmx"${SPARK_EXECUTOR_MEMORY}" \
      -cp "$classpath" \
      org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
      --driver-url "${SPARK_DRIVER_URL}" \
      --executor-id "${SPARK_EXECUTOR_ID}" \
      --cores "${SPARK_EXECUTOR_CORES}" \
      --app-id "${SPARK_APPLICATION_ID}" \
      --hostname "${SPARK_EXECUTOR_POD_IP}" \
      --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}" \
      --podName "${SPARK_EXECUTOR_POD_NAME}" \
      "$@"
    ;;
  operator)
    shift
    exec /usr/bin/spark-operator "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
