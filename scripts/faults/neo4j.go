package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"
)

// privateNeo4j is a Neo4j of the fault run's own, started and stopped with
// scripts/neo4j/neo4j.sh on its own port and data directory, and killed by the pid its
// pid file holds: never the shared one, never by name.
type privateNeo4j struct {
	script     string
	home       string // NEO4J_HOME; its log is home + ".log"
	pidFile    string
	port       int
	heap       string
	pageCacheM int
}

func (n *privateNeo4j) URI() string { return fmt.Sprintf("bolt://127.0.0.1:%d", n.port) }

func (n *privateNeo4j) env() []string {
	return append(os.Environ(),
		"NEO4J_HOME="+n.home,
		"NEO4J_BOLT_PORT="+strconv.Itoa(n.port),
		"NEO4J_PIDFILE="+n.pidFile,
		"NEO4J_HEAP="+n.heap,
		"NEO4J_PAGECACHE_MB="+strconv.Itoa(n.pageCacheM),
	)
}

// run calls the script; start returns when Bolt answers.
func (n *privateNeo4j) run(ctx context.Context, action string) error {
	cmd := exec.CommandContext(ctx, n.script, action)
	cmd.Env = n.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", n.script, action, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (n *privateNeo4j) start(ctx context.Context) error { return n.run(ctx, "start") }

// stop ends the launcher with SIGTERM (the script kills it after 30 s).
func (n *privateNeo4j) stop() error { return n.run(context.Background(), "stop") }

// pid is the launcher's process id, checked to be our launcher on our port.
func (n *privateNeo4j) pid() (int, error) {
	b, err := os.ReadFile(n.pidFile)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("%s holds %q, not a pid", n.pidFile, b)
	}
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return 0, fmt.Errorf("pid %d from %s: %w", pid, n.pidFile, err)
	}
	if !strings.Contains("\x00"+string(env)+"\x00", "\x00NEO4J_BOLT_PORT="+strconv.Itoa(n.port)+"\x00") {
		return 0, fmt.Errorf("pid %d from %s is not the launcher on port %d", pid, n.pidFile, n.port)
	}
	return pid, nil
}

// kill ends the launcher with SIGKILL, as a crash would, and waits until it is gone.
func (n *privateNeo4j) kill() error {
	pid, err := n.pid()
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("SIGKILL %d: %w", pid, err)
	}
	for range 200 {
		if !alive(pid) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("neo4j pid %d still there 10 s after SIGKILL", pid)
}

// alive says whether pid is a process that has not ended (a zombie has ended).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

// queryable waits until a fresh driver's `RETURN 1` succeeds on the default database,
// polling every 100 ms: the moment Neo4j has recovered, whatever the server's
// connection pool believes.
func (n *privateNeo4j) queryable(ctx context.Context, until time.Time) (time.Time, bool) {
	for ctx.Err() == nil && time.Now().Before(until) {
		if err := n.ping(ctx); err == nil {
			return time.Now(), true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Time{}, false
}

func (n *privateNeo4j) ping(ctx context.Context) error {
	d, err := neo4j.NewDriverWithContext(n.URI(), neo4j.NoAuth(), func(c *config.Config) {
		c.MaxTransactionRetryTime = 0
		c.SocketConnectTimeout = time.Second
	})
	if err != nil {
		return err
	}
	defer d.Close(context.Background())
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = neo4j.ExecuteQuery(ctx, d, "RETURN 1", nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase("neo4j"))
	return err
}
