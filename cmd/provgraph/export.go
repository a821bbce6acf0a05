package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"provgraph/graph"
	"provgraph/prov"
)

func exportCmd(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the whole graph as one PROV document (configured by PROVGRAPH_* variables, like serve)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, bad := envConfig(getenv)
			bad = append(bad, cfg.Check()...)
			if _, ok := prov.FormatName(format); !ok {
				bad = append(bad, fmt.Sprintf("--format=%q must be one of %s", format, strings.Join(prov.Formats(), ", ")))
			}
			if len(bad) > 0 {
				return configError(bad)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return export(ctx, cfg, format, out, stdout, stderr)
		},
	}
	cmd.Flags().StringVar(&format, "format", prov.FormatTurtle, "turtle, jsonld or provjson")
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (default stdout); written whole or not at all")
	return cmd
}

func export(ctx context.Context, cfg Config, format, out string, stdout, stderr io.Writer) (err error) {
	db, err := openGraph(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close(context.Background())

	var w io.Writer = stdout
	if out != "" {
		// A temporary file beside the target, renamed into place only when complete.
		f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
		if err != nil {
			return err
		}
		defer func() {
			if err != nil {
				f.Close()
				os.Remove(f.Name())
			}
		}()
		w = f
		defer func() {
			if err == nil {
				if err = f.Close(); err == nil {
					err = os.Rename(f.Name(), out)
				}
			}
		}()
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	enc, err := prov.NewEncoder(format, bw, cfg.BaseIRI)
	if err != nil {
		return err
	}
	progress, finish := progressReporter(stderr)
	start := time.Now()
	var done int64
	err = (&graph.Provenance{DB: db}).Export(ctx, enc, func(d, total int64) { done = d; progress(d, total) })
	if err != nil {
		enc.Close()
		finish()
		return fmt.Errorf("export: %w", err)
	}
	if err = enc.Close(); err == nil {
		err = bw.Flush()
	}
	finish()
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	took := time.Since(start)
	dest := out
	if dest == "" {
		dest = "stdout"
	}
	fmt.Fprintf(stderr, "exported %d PROV statements (nodes and relations) as %s to %s in %s (%.0f/s)\n",
		done, format, dest, took.Round(time.Millisecond), float64(done)/max(took.Seconds(), 1e-9))
	return nil
}

// progressReporter draws a bar on stderr when it is a terminal; otherwise it stays quiet
// and the caller prints one summary line.
func progressReporter(stderr io.Writer) (progress func(done, total int64), finish func()) {
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return func(int64, int64) {}, func() {}
	}
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription("exporting"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("statements"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	return func(done, total int64) {
		if bar.GetMax64() != total {
			bar.ChangeMax64(total)
		}
		_ = bar.Set64(done)
	}, func() { _ = bar.Finish() }
}

// openGraph connects a command to Neo4j as the server would, waiting up to Neo4jWait.
func openGraph(ctx context.Context, cfg Config) (*graph.DB, error) {
	openCtx, cancel := context.WithTimeout(ctx, cfg.Neo4jWait)
	defer cancel()
	db, err := graph.Open(openCtx, graph.Config{URI: cfg.Neo4jURI, User: cfg.Neo4jUser, Password: cfg.Neo4jPassword, Database: cfg.Neo4jDatabase})
	if err != nil {
		return nil, fmt.Errorf("%w (waited %s)", err, cfg.Neo4jWait)
	}
	return db, nil
}
