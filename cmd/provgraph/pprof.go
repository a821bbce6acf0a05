//go:build pprof

package main

// Profiling, for measuring only: a binary built with -tags pprof serves net/http/pprof on
// PROVGRAPH_PPROF_ADDR (say 127.0.0.1:6060), apart from the API and without its
// authentication, so it is never in the binary anyone runs.

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if addr := os.Getenv("PROVGRAPH_PPROF_ADDR"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
}
