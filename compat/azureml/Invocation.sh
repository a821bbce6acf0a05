#!/bin/bash
# provgraph's local-run agent for the Azure ML SDK v1.
#
# The SDK unpacks the zip provgraph answered to its localrun call into the run's folder
# (a copy of the project) and runs this script with bash, in the background. The script
# is the whole local-run contract: it takes the run through provgraph's native executor
# routes, so provgraph records who ran it, when, how it ended, its log and its metrics.
#
#   1. claim the run (PENDING -> RUNNING); the caller's token is the executor;
#   2. store the project as the run's artifact azureml/project.zip;
#   3. run Configuration.Script with Configuration.Arguments, its output in
#      azureml-logs/70_driver_log.txt, heartbeating every 30 s; stop it when the SDK
#      writes azureml-setup/killfile (ScriptRun.cancel) or provgraph says the run is
#      being canceled;
#   4. store the log, report the metrics (azureml.exit_code, azureml.duration_seconds,
#      and every number of outputs/metrics.json, a {"name": number} object the script
#      may write);
#   5. complete the run, fail it with the exit status, or acknowledge the cancel.
#
# Settings come from azureml-setup/provgraph.env, written by provgraph for this run.
set -u
cd "$(dirname "$0")/.." || exit 1
. azureml-setup/provgraph.env

api="$PROVGRAPH_URL/api/v1/runs/$PROVGRAPH_RUN"
mkdir -p azureml-logs outputs
agent_log=azureml-logs/provgraph_agent.txt
log() { echo "$(date -u +%FT%TZ) $*" >>"$agent_log"; }

# post OP BODY: a lifecycle operation; prints the answer, fails on anything but 200.
post() {
	curl -sS --fail-with-body -X POST -H "Authorization: Bearer $PROVGRAPH_TOKEN" \
		-H 'Content-Type: application/json' --data "$2" "$api:$1"
}
# upload NAME FILE TYPE: an artifact of the run.
upload() {
	curl -sS --fail-with-body -o /dev/null -X PUT -H "Authorization: Bearer $PROVGRAPH_TOKEN" \
		-H "Content-Type: $3" --data-binary "@$2" "$api/artifacts/$1" || log "upload of $1 failed"
}

if ! post claim '{"reason":"local run of the Azure ML SDK"}' >/dev/null 2>>"$agent_log"; then
	log "could not claim run $PROVGRAPH_RUN"
	exit 1
fi
log "claimed $PROVGRAPH_RUN ($AZUREML_RUN_ID)"

"$PYTHON" - "$PWD" >"$agent_log.zip" 2>>"$agent_log" <<'PY' && upload azureml/project.zip "$agent_log.zip" application/zip
import os, sys, zipfile
root = sys.argv[1]
with zipfile.ZipFile(sys.stdout.buffer.raw if hasattr(sys.stdout.buffer, "raw") else sys.stdout.buffer, "w", zipfile.ZIP_DEFLATED) as z:
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if os.path.relpath(os.path.join(d, x), root) not in ("azureml-setup", "azureml-logs", "outputs"))
        for f in sorted(files):
            p = os.path.join(d, f)
            if f != "invocation.zip":
                z.write(p, os.path.relpath(p, root))
PY
rm -f "$agent_log.zip"

started=$(date +%s)
"$PYTHON" "$SCRIPT" "${ARGUMENTS[@]}" >azureml-logs/70_driver_log.txt 2>&1 &
child=$!
canceled=0
ticks=0
while kill -0 "$child" 2>/dev/null; do
	sleep 1
	ticks=$((ticks + 1))
	if [ -e azureml-setup/killfile ]; then
		log "killfile: stopping the script"
		canceled=1
		kill "$child" 2>/dev/null
		break
	fi
	if [ $((ticks % 30)) -eq 0 ]; then
		state=$(post heartbeat '{}' 2>>"$agent_log")
		case "$state" in *'"state":"CANCELING"'*)
			log "provgraph asks to cancel: stopping the script"
			canceled=1
			kill "$child" 2>/dev/null
			break ;;
		esac
	fi
done
wait "$child"
status=$?
duration=$(($(date +%s) - started))
log "the script ended with status $status after ${duration}s"

upload azureml-logs/70_driver_log.txt azureml-logs/70_driver_log.txt text/plain
metrics=$("$PYTHON" - "$status" "$duration" "$AZUREML_RUN_ID" <<'PY' 2>>"$agent_log"
import json, math, os, sys
ms = [{"name": "azureml.exit_code", "node_id": sys.argv[3], "value": int(sys.argv[1])},
      {"name": "azureml.duration_seconds", "node_id": sys.argv[3], "value": int(sys.argv[2])}]
try:
    with open("outputs/metrics.json") as f:
        for k, v in json.load(f).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                ms.append({"name": str(k), "node_id": sys.argv[3], "value": v})
except (OSError, ValueError, AttributeError):
    pass
print(json.dumps({"metrics": ms}))
PY
)
curl -sS --fail-with-body -o /dev/null -X POST -H "Authorization: Bearer $PROVGRAPH_TOKEN" -H 'Content-Type: application/json' \
	--data "$metrics" "$api/metrics" 2>>"$agent_log" || log "metrics were not reported"

if [ "$canceled" = 1 ]; then
	post cancel '{"reason":"canceled on the local machine"}' >/dev/null 2>&1
	post canceled '{"reason":"the local script was stopped"}' >/dev/null 2>>"$agent_log"
elif [ "$status" -eq 0 ]; then
	post complete '{}' >/dev/null 2>>"$agent_log"
else
	post fail "{\"reason\":\"the script exited with status $status\"}" >/dev/null 2>>"$agent_log"
fi
log "done"
