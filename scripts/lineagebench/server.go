package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"provgraph/scripts/internal/apiclient"
)

// server is the provgraph process the benchmark starts, measures and stops (the same
// way scripts/bench does).
type server struct {
	URL       string
	Token     string
	Prefix    string
	LogPath   string
	TokenFile string // the local tokens the server takes besides its admin token

	cmd  *exec.Cmd
	done chan error
}

// serverConfig is how the benchmark runs the server: its own port, admin token, id
// prefix and token file, and the Neo4j the caller names.
type serverConfig struct {
	Bin      string
	Neo4jURI string
	Prefix   string
	Dir      string // for the token file and the log
	MaxBody  int64
}

// startServer runs `provgraph serve` on a free port and waits until it is ready.
func startServer(ctx context.Context, cfg serverConfig) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{
		URL:       fmt.Sprintf("http://127.0.0.1:%d", port),
		Token:     "lbench-admin-" + randomHex(16),
		Prefix:    cfg.Prefix,
		LogPath:   filepath.Join(cfg.Dir, "server.log"),
		TokenFile: filepath.Join(cfg.Dir, "tokens.json"),
		done:      make(chan error, 1),
	}
	logf, err := os.Create(s.LogPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	s.cmd = exec.Command(cfg.Bin, "serve", "--first-admin-token=false")
	// Later entries win, so these override whatever PROVGRAPH_* the caller exported;
	// PROVGRAPH_NEO4J_USER/PASSWORD/DATABASE pass through.
	s.cmd.Env = append(os.Environ(),
		"PROVGRAPH_ADDR="+fmt.Sprintf("127.0.0.1:%d", port),
		"PROVGRAPH_NEO4J_URI="+cfg.Neo4jURI,
		"PROVGRAPH_ADMIN_TOKEN="+s.Token,
		"PROVGRAPH_ID_PREFIX="+cfg.Prefix,
		"PROVGRAPH_TOKEN_FILE="+s.TokenFile,
		"PROVGRAPH_BASE_IRI=",
		fmt.Sprintf("PROVGRAPH_MAX_BODY_BYTES=%d", cfg.MaxBody),
	)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s serve: %w (build it with `make build`)", cfg.Bin, err)
	}
	go func() { s.done <- s.cmd.Wait() }()

	c := apiclient.New(s.URL, s.Token, 1)
	deadline := time.Now().Add(90 * time.Second)
	for {
		if err := c.Ready(ctx); err == nil {
			return s, nil
		}
		select {
		case err := <-s.done:
			s.done <- err
			return nil, fmt.Errorf("the server exited before it was ready (%v); its log: %s\n%s", err, s.LogPath, tail(s.LogPath, 10))
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("the server was not ready after 90 s; is Neo4j up at %s? Its log: %s\n%s", cfg.Neo4jURI, s.LogPath, tail(s.LogPath, 10))
		}
	}
}

// Stop sends SIGTERM and waits for the server to finish the requests in flight (it
// allows itself 30 s); after 40 s it is killed.
func (s *server) Stop() error {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(40 * time.Second):
		_ = s.cmd.Process.Kill()
		err := <-s.done
		s.done <- err
		return fmt.Errorf("the server ignored SIGTERM for 40 s and was killed")
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
