#!/usr/bin/env bash
# Starts and stops the embedded Neo4j launcher. The process is managed by its pid file
# only, never by name, so other Neo4j processes on the machine are left alone.
#   neo4j.sh start|stop|status|build
# Environment: NEO4J_HOME (var/neo4j), NEO4J_BOLT_PORT (7687), NEO4J_PIDFILE
# ($NEO4J_HOME.pid), NEO4J_HEAP (1g), NEO4J_PAGECACHE_MB (512),
# NEO4J_TX_MEMORY_MB (256: the most one transaction may use).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
home=${NEO4J_HOME:-$root/var/neo4j}
port=${NEO4J_BOLT_PORT:-7687}
pidfile=${NEO4J_PIDFILE:-$home.pid}
heap=${NEO4J_HEAP:-1g}

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

build() {
  if [ -d "$here/target/lib" ] && [ -f "$here/target/classes/provgraph/neo4j/Launcher.class" ] &&
     [ "$here/target/classes/provgraph/neo4j/Launcher.class" -nt "$here/pom.xml" ] &&
     [ "$here/target/classes/provgraph/neo4j/Launcher.class" -nt "$here/src/main/java/provgraph/neo4j/Launcher.java" ]; then
    return
  fi
  echo "neo4j: building the launcher with Maven (first time downloads Neo4j 5.26 from Maven Central)..." >&2
  (cd "$here" && mvn -B -q -Dstyle.color=never -DskipTests package)
}

running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid; pid=$(cat "$pidfile")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

start() {
  if pid=$(running_pid); then
    echo "neo4j: already running (pid $pid) on bolt://127.0.0.1:$port" >&2
    return
  fi
  if answers; then
    echo "neo4j: something already answers on 127.0.0.1:$port; not starting another" >&2
    return
  fi
  build
  mkdir -p "$home"
  local t0; t0=$(date +%s%N)
  NEO4J_HOME="$home" NEO4J_BOLT_PORT="$port" setsid nohup java -Xms256m "-Xmx$heap" \
    --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/java.io=ALL-UNNAMED \
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED --add-opens java.base/java.lang=ALL-UNNAMED \
    -cp "$here/target/classes:$here/target/lib/*" provgraph.neo4j.Launcher \
    >"$home.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  for _ in $(seq 1 600); do
    if answers; then
      echo "neo4j: ready on bolt://127.0.0.1:$port in $(( ($(date +%s%N) - t0) / 1000000 )) ms (pid $(cat "$pidfile"), data $home)" >&2
      return
    fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "neo4j: the launcher exited; last lines of $home.log:" >&2
      tail -20 "$home.log" >&2
      rm -f "$pidfile"
      exit 1
    fi
    sleep 0.2
  done
  echo "neo4j: Bolt did not answer within 120 s; see $home.log" >&2
  exit 1
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$pidfile"
    echo "neo4j: not running (no live pid in $pidfile)" >&2
    return
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; echo "neo4j: stopped (pid $pid)" >&2; return; }
    sleep 0.1
  done
  echo "neo4j: pid $pid did not stop in 30 s; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  build) build ;;
  status) if pid=$(running_pid); then echo "running (pid $pid)"; else echo "stopped"; exit 3; fi ;;
  *) echo "usage: $0 start|stop|status|build" >&2; exit 2 ;;
esac
