// Package benchserver starts, measures and stops the provgraph process a benchmark
// talks to: its own port, admin token, id prefix and token file, against the Neo4j the
// caller names.
package benchserver

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"provgraph/scripts/internal/apiclient"
)

// Server is the provgraph process the benchmark starts, measures and stops.
type Server struct {
	URL       string
	Token     string
	Prefix    string
	LogPath   string
	TokenFile string // the local tokens the server takes besides its admin token

	cmd  *exec.Cmd
	done chan error
}

// Config is how the benchmark runs the server: its own port, admin token, id
// prefix and token file, and the Neo4j the caller names.
type Config struct {
	Bin      string
	Neo4jURI string
	Prefix   string
	Dir      string // for the token file and the log
	MaxBody  int64

	// Port and Token, when set, replace a free port and a fresh admin token, so that a
	// restarted server answers where, and to whom, the one before it did.
	Port  int
	Token string
	// ArtifactDir, when set, is where the server keeps artifact blobs.
	ArtifactDir string
}

// Start runs `provgraph serve` on a free port and waits until it is ready.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	port, token := cfg.Port, cfg.Token
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	if token == "" {
		token = "bench-admin-" + RandomHex(16)
	}
	s := &Server{
		URL:       fmt.Sprintf("http://127.0.0.1:%d", port),
		Token:     token,
		Prefix:    cfg.Prefix,
		LogPath:   filepath.Join(cfg.Dir, "server.log"),
		TokenFile: filepath.Join(cfg.Dir, "tokens.json"),
		done:      make(chan error, 1),
	}
	// Appended to: a restarted server's log follows the one before it.
	logf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
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
	if cfg.ArtifactDir != "" {
		s.cmd.Env = append(s.cmd.Env, "PROVGRAPH_ARTIFACT_DIR="+cfg.ArtifactDir)
	}
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

// Memory is the server's resident set: now and its peak (VmHWM) since it started.
type Memory struct{ RSS, Peak int64 } // bytes

// Memory reads /proc/<pid>/status.
func (s *Server) Memory() (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	var m Memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmHWM" && name != "VmRSS") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("/proc status %s: %q", name, val)
		}
		if name == "VmHWM" {
			m.Peak = kb << 10
		} else {
			m.RSS = kb << 10
		}
	}
	if m.Peak == 0 {
		return m, errors.New("no VmHWM in /proc/<pid>/status")
	}
	return m, sc.Err()
}

// CPU is the processor time the server has used so far.
func (s *Server) CPU() (time.Duration, error) { return ProcessCPU(s.cmd.Process.Pid) }

// ProcessCPU is the processor time process pid has used, user and system.
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces:
	// utime and stime are the 12th and 13th, in clock ticks (USER_HZ, 100 on Linux).
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected %q", pid, b)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// MachineCPU reads the whole machine's busy and total processor time from /proc/stat.
func MachineCPU() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i >= 8 { // guest time is already counted in user time
			break
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Exited says whether the server process has ended, and how.
func (s *Server) Exited() (bool, error) {
	select {
	case err := <-s.done:
		s.done <- err
		return true, err
	default:
		return false, nil
	}
}

// Kill ends the server with SIGKILL, as a crash would: no request in flight finishes.
func (s *Server) Kill() error {
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	err := <-s.done
	s.done <- err
	return nil
}

// Stop sends SIGTERM and waits for the server to finish the requests in flight (it
// allows itself 30 s); after 40 s it is killed.
func (s *Server) Stop() error {
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

// RandomHex is n random bytes in hex, for unique prefixes and tokens.
func RandomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
