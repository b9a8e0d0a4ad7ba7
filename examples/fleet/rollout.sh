#!/usr/bin/env bash
# rollout.sh reload|restart HOST...  — a rolling deploy, one host at a time, that stops at the
# first host whose step fails (exit 1, naming it), so a broken release reaches one host at most.
#   reload   `hypnode reload APP` on the host: returns once the new code serves everything there,
#            fails (the old code still serving) when the new code cannot start
#   restart  `hypnode stop APP`, then the start command: with --stop-delay above the load
#            balancer's check interval, the balancer has stopped sending before the workers drain
# Environment:
#   HYPNODE_APP    the app's path on the hosts (required)
#   HYPNODE_EXEC   how to run a command on a host (default: ssh); called as: $HYPNODE_EXEC HOST CMD...
#   HYPNODE_START  restart: the command that starts the instance again (default: systemctl start hypnode-app)
#   HYPNODE_HEALTH restart: a URL template for the host's /healthz, {} for the host
#                  (default: http://{}:9100/healthz); the roll waits for 200 before the next host
set -euo pipefail
step=${1:?usage: rollout.sh reload|restart HOST...}; shift
app=${HYPNODE_APP:?set HYPNODE_APP to the app path on the hosts}
exec_on=${HYPNODE_EXEC:-ssh}
start=${HYPNODE_START:-systemctl start hypnode-app}
default_health='http://{}:9100/healthz'
health=${HYPNODE_HEALTH:-$default_health}

healthy() {
  local url=${health//\{\}/$1}
  for _ in $(seq 1 300); do
    if $exec_on "$1" curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

for host in "$@"; do
  echo "rollout: $step on $host" >&2
  case $step in
    reload)  $exec_on "$host" hypnode reload "$app" || { echo "rollout: reload failed on $host; stopped here, the other hosts untouched" >&2; exit 1; } ;;
    restart) $exec_on "$host" hypnode stop "$app" &&
             $exec_on "$host" $start &&
             healthy "$host" || { echo "rollout: restart failed on $host; stopped here" >&2; exit 1; } ;;
    *) echo "rollout: unknown step $step (reload or restart)" >&2; exit 2 ;;
  esac
done
echo "rollout: $step done on $# hosts" >&2
