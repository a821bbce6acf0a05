// Command provgraph serves the provgraph registry and administers it. This is the only
// package that wires the domain, the graph store and the HTTP server together.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"provgraph/auth"
	"provgraph/compat/azureml"
	"provgraph/compat/flowserv"
	"provgraph/compat/ica"
	"provgraph/compat/kfp"
	"provgraph/compat/provena"
	"provgraph/compat/tes"
	"provgraph/graph"
	"provgraph/registry"
	"provgraph/runs"
	"provgraph/schemas"
	"provgraph/server"
)

var version = "dev"

func main() {
	if err := rootCmd(os.Stdout, os.Stderr, os.Getenv).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "provgraph:", err)
		os.Exit(1)
	}
}

func rootCmd(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	root := &cobra.Command{
		Use:           "provgraph",
		Short:         "A provenance-first registry on Neo4j",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(serveCmd(stdout, stderr, getenv), tokenCmd(stdout, getenv), openapiCmd(), exportCmd(stdout, stderr, getenv), lineageCmd(stdout, getenv), &cobra.Command{
		Use: "version", Short: "Print the version",
		Run: func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), version) },
	})
	return root
}

// tuneGC trades memory the server does not need for CPU it does: the collector runs half
// as often, but never lets the heap pass 150 MiB (the server is meant to stay under 200
// MiB). GOGC and GOMEMLIMIT, when set, win.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(150 << 20)
	}
}

// cpuProfile records where the server spends CPU until it stops, for `go tool pprof`
// (PROVGRAPH_CPU_PROFILE names the file; for measuring, not for production).
func cpuProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("PROVGRAPH_CPU_PROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("PROVGRAPH_CPU_PROFILE: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func serveCmd(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	var firstToken bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the API (configured by PROVGRAPH_* variables)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, bad := envConfig(getenv)
			bad = append(bad, cfg.Check()...)
			if len(bad) > 0 {
				return configError(bad)
			}
			tuneGC(getenv)
			if path := getenv("PROVGRAPH_CPU_PROFILE"); path != "" {
				stopProfile, err := cpuProfile(path)
				if err != nil {
					return err
				}
				defer stopProfile()
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			m := &Main{Config: cfg, Logger: newLogger(stderr, cfg.LogLevel), Out: stdout, FirstAdminToken: firstToken}
			if err := m.Run(ctx); err != nil {
				return err
			}
			<-ctx.Done()
			m.Logger.Info().Msg("shutting down; finishing requests in flight")
			return m.Close()
		},
	}
	cmd.Flags().BoolVar(&firstToken, "first-admin-token", true, "create and print an admin token when the token file has none")
	return cmd
}

func tokenCmd(stdout io.Writer, getenv func(string) string) *cobra.Command {
	tok := &cobra.Command{Use: "token", Short: "Manage local bearer tokens"}
	var role, name string
	var groups []string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a local token and print it (it is stored hashed and shown only now)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _ := envConfig(getenv)
			r, err := auth.ParseRole(role)
			if err != nil {
				return err
			}
			if name == "" {
				name = string(r)
			}
			token, rec, err := auth.CreateLocalToken(cfg.TokenFile, name, r, groups...)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", token)
			fmt.Fprintf(cmd.ErrOrStderr(), "created %s token %q (id %s) in %s\n", rec.Role, rec.Name, rec.ID, cfg.TokenFile)
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "reader", "reader, writer or admin")
	create.Flags().StringVar(&name, "name", "", "a name to recognise the token by")
	create.Flags().StringSliceVar(&groups, "groups", nil, "groups whose restricted records the token may read (comma-separated)")
	tok.AddCommand(create)
	return tok
}

func openapiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "openapi",
		Short: "Print the OpenAPI 3.1 document of the API",
		RunE: func(cmd *cobra.Command, _ []string) error {
			srv, err := newServer(nil, nil, nil, zerolog.Nop(), Config{})
			if err != nil {
				return err
			}
			srv.Handler()
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(srv.OpenAPI())
		},
	}
}

// newServer wires the HTTP server onto the graph store.
func newServer(db *graph.DB, authn auth.Authenticator, ids *registry.IDs, log zerolog.Logger, cfg Config) (*server.Server, error) {
	sch, err := schemas.Load()
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv := &server.Server{Schemas: sch, Auth: authn, Logger: log, Metrics: reg, MaxBody: cfg.MaxBodyBytes, Version: version, BaseIRI: cfg.BaseIRI,
		RequestTimeout: cfg.RequestTimeout, TransferTimeout: cfg.TransferTimeout}
	if db != nil {
		cache := graph.NewRecordCache(cfg.RecordCache) // of the records model runs name
		cacheLookups(reg, cache)
		srv.Registry = &registry.Service{Store: &graph.Entities{DB: db, IDs: ids, Cache: cache}, Schemas: sch, IDs: ids, Now: time.Now}
		tracked := &runs.Runs{Store: &graph.Runs{DB: db, IDs: ids}, Schemas: sch, IDs: ids, Now: time.Now, Lease: cfg.RunLease,
			Blobs: &runs.Blobs{Dir: cfg.ArtifactDir}, MaxArtifact: cfg.MaxArtifactBytes}
		srv.Runs, srv.Artifacts = tracked, tracked
		srv.Foreign = append(srv.Foreign, kfp.API(kfp.Config{Runs: tracked, Studies: srv.Registry, Key: func() []byte { return tracked.Tokens.Key }, Version: version}))
		srv.Foreign = append(srv.Foreign, tes.API(tracked, tes.Info{Version: version, OrganizationURL: cfg.BaseIRI}), ica.API(tracked))
		srv.Foreign = append(srv.Foreign, flowserv.API(flowserv.Config{Runs: tracked, Records: srv.Registry, Auth: authn}))
		srv.Foreign = append(srv.Foreign, azureml.API(azureml.Config{Runs: tracked, Blobs: tracked.Blobs, Studies: srv.Registry, Snapshots: &graph.AzureSnapshots{DB: db}}))
		mrs := &graph.ModelRuns{DB: db, BaseIRI: cfg.BaseIRI, Cache: cache}
		modelRuns := &runs.ModelRuns{Store: mrs, Templates: mrs, Schemas: sch, IDs: ids, Now: time.Now}
		srv.ModelRuns, srv.CSVRuns = modelRuns, modelRuns
		srv.Foreign = append(srv.Foreign, provena.API(provena.Config{ModelRuns: modelRuns, Registry: srv.Registry, Lineage: &graph.Lineage{DB: db}, Jobs: &graph.ProvenaJobs{DB: db},
			Settings: []provena.Setting{{Name: "PROVGRAPH_NEO4J_URI", Value: cfg.Neo4jURI, Required: true}, {Name: "PROVGRAPH_NEO4J_DATABASE", Value: cfg.Neo4jDatabase, Required: true},
				{Name: "PROVGRAPH_ID_PREFIX", Value: cfg.IDPrefix, Required: true}, {Name: "PROVGRAPH_BASE_IRI", Value: cfg.BaseIRI}, {Name: "PROVGRAPH_OIDC_ISSUER", Value: cfg.OIDCIssuer},
				{Name: "PROVGRAPH_OIDC_AUDIENCE", Value: cfg.OIDCAudience}, {Name: "PROVGRAPH_OIDC_ROLES_CLAIM", Value: cfg.OIDCRoleClaim}}}))
		srv.Provenance = &graph.Provenance{DB: db}
		srv.Lineage = &graph.Lineage{DB: db}
		srv.Cypher, srv.CypherTimeout = db, cfg.CypherTimeout
		srv.CypherSlots, srv.CypherSlotsPerCaller = cfg.CypherConcurrency, cfg.CypherPerCaller
		srv.Access = &graph.Access{DB: db, Cache: cache}
		srv.Exporter = &graph.Provenance{DB: db}
		srv.Health = db
	}
	return srv, nil
}

// cacheLookups exports how often registration found the records it names cached.
func cacheLookups(reg *prometheus.Registry, c *graph.RecordCache) {
	for _, hit := range []bool{true, false} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "provgraph_record_cache_lookups_total",
			Help:        "Lookups of the records a model-run registration names in the server's cache, by whether the cache held them.",
			ConstLabels: prometheus.Labels{"hit": strconv.FormatBool(hit)},
		}, func() float64 {
			hits, misses := c.Stats()
			if hit {
				return float64(hits)
			}
			return float64(misses)
		}))
	}
}

func newLogger(w io.Writer, level string) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	return zerolog.New(w).Level(lvl).With().Timestamp().Str("service", "provgraph").Logger()
}

// Main is the running server; the binary and the end-to-end tests share it.
type Main struct {
	Config          Config
	Logger          zerolog.Logger
	Out             io.Writer
	FirstAdminToken bool

	// URL is where the server listens, known once Run returns.
	URL string

	db        *graph.DB
	http      *http.Server
	stopReap  context.CancelFunc
	reaped    chan struct{} // closed when the reaper has stopped
	done      chan error
	closeOnce sync.Once
	closeErr  error
}

// Run connects to Neo4j, prepares the schema and starts serving in the background.
func (m *Main) Run(ctx context.Context) error {
	cfg := m.Config
	openCtx, cancel := context.WithTimeout(ctx, cfg.Neo4jWait)
	defer cancel()
	start := time.Now()
	db, err := graph.Open(openCtx, graph.Config{URI: cfg.Neo4jURI, User: cfg.Neo4jUser, Password: cfg.Neo4jPassword, Database: cfg.Neo4jDatabase,
		CypherPool: cfg.CypherConcurrency})
	if err != nil {
		return fmt.Errorf("%w (waited %s; start it with `make neo4j`)", err, cfg.Neo4jWait)
	}
	m.db = db
	if err := db.EnsureSchema(openCtx); err != nil {
		db.Close(context.Background())
		return fmt.Errorf("neo4j constraints: %w", err)
	}
	m.Logger.Info().Str("neo4j", cfg.Neo4jURI).Dur("took", time.Since(start)).Msg("neo4j ready, constraints in place")

	authn, err := m.authenticator(ctx)
	if err != nil {
		db.Close(context.Background())
		return err
	}
	srv, err := newServer(db, authn, registry.NewIDs(cfg.IDPrefix), m.Logger, cfg)
	if err != nil {
		db.Close(context.Background())
		return err
	}
	key, err := db.Secret(openCtx, "page_tokens")
	if err != nil {
		db.Close(context.Background())
		return fmt.Errorf("page token key: %w", err)
	}
	tracked := srv.Runs.(*runs.Runs)
	tracked.Tokens = runs.Tokens{Key: key}
	// An upload cannot outlast the transfer deadline: an older temporary file is what a
	// server killed mid-upload left.
	if n, err := tracked.Blobs.Sweep(cfg.TransferTimeout, time.Now()); err != nil {
		m.Logger.Warn().Err(err).Str("dir", cfg.ArtifactDir).Msg("sweeping abandoned uploads")
	} else if n > 0 {
		m.Logger.Info().Int("files", n).Str("dir", cfg.ArtifactDir).Msg("removed the temporary files of abandoned uploads")
	}
	m.startReaper(tracked, cfg.RunLease)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		db.Close(context.Background())
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	m.URL = "http://" + ln.Addr().String()
	// Each route sets its own read and write deadlines (short, or long for bulk); these
	// bound the headers, the idle time between requests, and what no route matches.
	m.http = &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: min(10*time.Second, cfg.RequestTimeout),
		ReadTimeout:       cfg.RequestTimeout,
		WriteTimeout:      cfg.RequestTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          nil,
	}
	m.done = make(chan error, 1)
	go func() { m.done <- m.http.Serve(ln) }()
	m.Logger.Info().Str("url", m.URL).Msg("serving")
	fmt.Fprintf(m.Out, "provgraph is serving at %s (API under %s/api/v1, OpenAPI at %s/openapi.json, lineage pages at %s/ui/)\n", m.URL, m.URL, m.URL, m.URL)
	return nil
}

// authenticator chains the env admin token, the local token file and OIDC when set.
func (m *Main) authenticator(ctx context.Context) (auth.Authenticator, error) {
	cfg := m.Config
	var chain []auth.Authenticator
	if cfg.AdminToken != "" {
		chain = append(chain, auth.Static(cfg.AdminToken, auth.Admin, "env:admin"))
	}
	local := auth.LocalTokens(cfg.TokenFile)
	chain = append(chain, local)
	if m.FirstAdminToken && cfg.AdminToken == "" {
		has, err := local.HasAny()
		if err != nil {
			return nil, fmt.Errorf("token file %s: %w", cfg.TokenFile, err)
		}
		if !has {
			token, _, err := auth.CreateLocalToken(cfg.TokenFile, "first admin", auth.Admin)
			if err != nil {
				return nil, fmt.Errorf("token file %s: %w", cfg.TokenFile, err)
			}
			fmt.Fprintf(m.Out, "first use: created an admin token (shown only now; stored hashed in %s):\n  %s\n", cfg.TokenFile, token)
		}
	}
	if cfg.OIDCIssuer != "" {
		oidc, err := auth.NewOIDC(ctx, auth.OIDCConfig{Issuer: cfg.OIDCIssuer, Audience: cfg.OIDCAudience, JWKSURL: cfg.OIDCJWKSURL, RolesClaim: cfg.OIDCRoleClaim, RoleMap: cfg.OIDCRoleMap,
			GroupsClaim: cfg.OIDCGroupsClaim})
		if err != nil {
			return nil, fmt.Errorf("oidc: %w", err)
		}
		chain = append(chain, oidc)
	}
	return auth.Chain(chain...), nil
}

// Close stops accepting requests, finishes those in flight (up to 30 s) and disconnects.
func (m *Main) Close() error {
	m.closeOnce.Do(func() { m.closeErr = m.close() })
	return m.closeErr
}

// startReaper ends, every tenth of a lease (at most every 30 s), the runs whose
// executor stopped renewing its lease.
func (m *Main) startReaper(r *runs.Runs, lease time.Duration) {
	ctx, stop := context.WithCancel(context.Background())
	m.stopReap = stop
	m.reaped = make(chan struct{})
	every := min(lease/10, 30*time.Second)
	go func() {
		defer close(m.reaped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if n, err := r.Reap(ctx); err != nil && ctx.Err() == nil {
					m.Logger.Warn().Err(err).Msg("lease reaper")
				} else if n > 0 {
					m.Logger.Info().Int("runs", n).Msg("lease reaper ended runs whose lease lapsed")
				}
			}
		}
	}()
}

func (m *Main) close() error {
	if m.stopReap != nil {
		m.stopReap()
		<-m.reaped // a reap in flight must end before the database closes under it
	}
	var errs []error
	if m.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		errs = append(errs, m.http.Shutdown(ctx))
		if err := <-m.done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if m.db != nil {
		errs = append(errs, m.db.Close(context.Background()))
	}
	return errors.Join(errs...)
}
