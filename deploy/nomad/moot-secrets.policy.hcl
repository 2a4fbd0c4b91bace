# Read access to moot's secrets in Nomad Variables (path moot/secrets) for the jobs that need
# them. Attach it to each job's workload identity (deploy/README.md, "Nomad"):
#
#   for job in moot-api moot-worker moot-migrate livekit coturn; do
#     nomad acl policy apply -namespace default -job "$job" "moot-secrets-$job" \
#       deploy/nomad/moot-secrets.policy.hcl
#   done

namespace "default" {
  variables {
    path "moot/secrets" {
      capabilities = ["read"]
    }
  }
}
