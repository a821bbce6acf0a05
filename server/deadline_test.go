package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"provgraph/prov"
	"provgraph/registry"
)

// endlessExport encodes the example document again and again until a write fails, and
// says how the export ended.
type endlessExport struct{ ended chan error }

func (e endlessExport) Export(ctx context.Context, enc prov.Encoder, progress func(done, total int64)) error {
	doc := prov.ExampleDocument()
	for {
		if err := enc.Encode(doc); err != nil {
			e.ended <- err
			return err
		}
		progress(0, 0)
	}
}

func (endlessExport) Kind(context.Context, string, registry.Viewer) (string, error) {
	return "", nil
}

// syncBuffer is a log sink the server's goroutines write to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// liveServer serves s's handler on a loopback port, as the binary does.
func liveServer(t *testing.T, s *Server) string {
	t.Helper()
	s.Metrics = prometheus.NewRegistry()
	s.BaseIRI = "http://provgraph.test/id/"
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return strings.TrimPrefix(ts.URL, "http://")
}

// TestTrickledBodyIsCutOff: a body sent a byte at a time holds its connection no longer
// than the request deadline; the client is told 408.
func TestTrickledBodyIsCutOff(t *testing.T) {
	reached := 0
	s, _ := mustServer(t, fakeRegistry{create: func(registry.Kind, []byte, registry.Actor, string) (registry.Record, error) {
		reached++
		return registry.Record{}, nil
	}}, fakeHealth{})
	s.RequestTimeout = time.Second
	addr := liveServer(t, s)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /api/v1/studies HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n", writerToken)
	go func() {
		for i := 0; i < 1000; i++ {
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer after %s: %v", time.Since(start), err)
	}
	res.Body.Close()
	took := time.Since(start)
	if res.StatusCode != http.StatusRequestTimeout || took > 4*time.Second || reached != 0 {
		t.Fatalf("status %d after %s (deadline 1s), %d reached the registry", res.StatusCode, took, reached)
	}
}

// TestStalledExportReaderIsReleased: a client that asks for the whole graph and never
// reads it holds the export's goroutine (and its database session) no longer than the
// transfer deadline; that is the client's doing and is not logged as an error.
func TestStalledExportReaderIsReleased(t *testing.T) {
	var logs syncBuffer
	s, _ := mustServer(t, fakeRegistry{}, fakeHealth{})
	ended := make(chan error, 1)
	s.Exporter = endlessExport{ended: ended}
	s.TransferTimeout = time.Second
	s.Logger = zerolog.New(&logs)
	addr := liveServer(t, s)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "GET /api/v1/prov?format=turtle HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", adminToken)
	// … and never read.
	select {
	case err := <-ended:
		// Written until the write deadline: twice the timeout.
		if took := time.Since(start); err == nil || took > 6*time.Second {
			t.Fatalf("export ended after %s with %v", took, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the export still writes to a client that stopped reading")
	}
	waitForLog(t, &logs, "request")
	assertNoErrorLines(t, logs.String())
	if !strings.Contains(logs.String(), "the client stopped reading the export") {
		t.Fatalf("no note of the client going:\n%s", logs.String())
	}
}

// TestExportClientGoneIsNotAnError: a client that reads part of an export and hangs up is
// noted at info level, not as a server error.
func TestExportClientGoneIsNotAnError(t *testing.T) {
	var logs syncBuffer
	s, _ := mustServer(t, fakeRegistry{}, fakeHealth{})
	ended := make(chan error, 1)
	s.Exporter = endlessExport{ended: ended}
	s.Logger = zerolog.New(&logs)
	addr := liveServer(t, s)
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/prov?format=turtle", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	buf := make([]byte, 4096)
	if _, err := res.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	res.Body.Close() // hang up mid-stream
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the export did not notice its client left")
	}
	waitForLog(t, &logs, "request")
	assertNoErrorLines(t, logs.String())
	if !strings.Contains(logs.String(), `"level":"info"`) || !strings.Contains(logs.String(), "the client stopped reading the export") {
		t.Fatalf("no info line on the client going:\n%s", logs.String())
	}
}

// waitForLog waits for a log line with this message: the access line is the request's last.
func waitForLog(t *testing.T, logs *syncBuffer, msg string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if strings.Contains(logs.String(), `"message":"`+msg+`"`) {
			return
		}
	}
	t.Fatalf("no %q line in the log:\n%s", msg, logs.String())
}

func assertNoErrorLines(t *testing.T, logs string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if l["level"] == "error" || l["level"] == "warn" {
			t.Fatalf("a client that left is logged as %s: %s", l["level"], line)
		}
	}
}
