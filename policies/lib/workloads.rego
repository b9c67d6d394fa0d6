package lib.biogitops.workloads

# The pod spec of the reviewed object, wherever its kind keeps it: a Pod's own spec, the pod
# template of a workload controller. A pod policy reads containers and pod fields from here, so
# a Deployment (or CronJob, ...) is refused when it is applied, not later at pod creation.
# This file is the one source; each pod policy's template carries a verbatim copy under
# spec.targets[0].libs (Gatekeeper compiles libs per template), and `nox -s policy` refuses a
# copy that differs (rule lib-copy). Keep WORKLOAD_KINDS in biogitops/checks/policy_suites.py
# in step with pod_spec_path.

pod_spec_path := {
  "Pod": ["spec"],
  "Deployment": ["spec", "template", "spec"],
  "StatefulSet": ["spec", "template", "spec"],
  "DaemonSet": ["spec", "template", "spec"],
  "ReplicaSet": ["spec", "template", "spec"],
  "Job": ["spec", "template", "spec"],
  "CronJob": ["spec", "jobTemplate", "spec", "template", "spec"],
}

# undefined for a kind without a pod spec (a Scale, a Service): such an object has no violation
pod_spec := spec {
  spec := object.get(input.review.object, pod_spec_path[input.review.object.kind], null)
  spec != null
}

# "Deployment lab-x/name": the object the user applied, for messages
subject := sprintf("%v %v/%v", [
  input.review.object.kind,
  object.get(input.review.object.metadata, "namespace", ""),
  input.review.object.metadata.name,
])

# the containers and init containers its pods run
containers[c] {
  c := pod_spec.containers[_]
}

containers[c] {
  c := pod_spec.initContainers[_]
}

# ... and the ephemeral (debug) containers added to a running Pod, which set no resources
all_containers[c] {
  c := containers[_]
}

all_containers[c] {
  c := pod_spec.ephemeralContainers[_]
}
