package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"provgraph/auth"
)

// Config is everything the server reads from PROVGRAPH_* variables (flags override).
type Config struct {
	Addr          string
	Neo4jURI      string
	Neo4jUser     string
	Neo4jPassword string
	Neo4jDatabase string
	Neo4jWait     time.Duration
	BaseIRI       string
	IDPrefix      string
	AdminToken    string
	TokenFile     string
	MaxBodyBytes  int64
	OIDCIssuer    string
	OIDCAudience  string
	OIDCJWKSURL   string
	OIDCRoleClaim string
	// OIDCRoleMap maps the roles claim's values to roles (nil: reader, writer, admin).
	OIDCRoleMap map[string]auth.Role
	// OIDCGroupsClaim names the claim whose groups open restricted records.
	OIDCGroupsClaim string
	LogLevel        string
	RunLease        time.Duration
	// ArtifactDir holds the content-addressed store of run artifacts; MaxArtifactBytes
	// bounds one artifact.
	ArtifactDir      string
	MaxArtifactBytes int64
	// CypherTimeout bounds a user's read-only Cypher query; CypherConcurrency bounds
	// how many run at once (and the connections they have), CypherPerCaller how many of
	// one caller's.
	CypherTimeout     time.Duration
	CypherConcurrency int
	CypherPerCaller   int
	// RecordCache is how many records model-run registration keeps cached (0: none).
	RecordCache int
	// RequestTimeout bounds reading a request's body and writing its answer;
	// TransferTimeout does for bulk routes (exports, artifacts, batches), and is how old
	// an upload's temporary file must be for start to sweep it.
	RequestTimeout  time.Duration
	TransferTimeout time.Duration
}

// envConfig reads the environment; Check reports what is wrong with it.
func envConfig(getenv func(string) string) (Config, []string) {
	var bad []string
	get := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	c := Config{
		Addr:              get("PROVGRAPH_ADDR", "127.0.0.1:8080"),
		Neo4jURI:          get("PROVGRAPH_NEO4J_URI", "bolt://127.0.0.1:7687"),
		Neo4jUser:         getenv("PROVGRAPH_NEO4J_USER"),
		Neo4jPassword:     getenv("PROVGRAPH_NEO4J_PASSWORD"),
		Neo4jDatabase:     get("PROVGRAPH_NEO4J_DATABASE", "neo4j"),
		BaseIRI:           getenv("PROVGRAPH_BASE_IRI"),
		IDPrefix:          get("PROVGRAPH_ID_PREFIX", "local"),
		AdminToken:        getenv("PROVGRAPH_ADMIN_TOKEN"),
		TokenFile:         get("PROVGRAPH_TOKEN_FILE", "var/tokens.json"),
		OIDCIssuer:        getenv("PROVGRAPH_OIDC_ISSUER"),
		OIDCAudience:      getenv("PROVGRAPH_OIDC_AUDIENCE"),
		OIDCJWKSURL:       getenv("PROVGRAPH_OIDC_JWKS_URL"),
		OIDCRoleClaim:     get("PROVGRAPH_OIDC_ROLES_CLAIM", "roles"),
		OIDCGroupsClaim:   get("PROVGRAPH_OIDC_GROUPS_CLAIM", "groups"),
		LogLevel:          get("PROVGRAPH_LOG_LEVEL", "info"),
		MaxBodyBytes:      1 << 20,
		Neo4jWait:         30 * time.Second,
		RunLease:          5 * time.Minute,
		CypherTimeout:     5 * time.Second,
		CypherConcurrency: 4,
		CypherPerCaller:   2,
		ArtifactDir:       get("PROVGRAPH_ARTIFACT_DIR", "var/artifacts"),

		MaxArtifactBytes: 1 << 30,
		RecordCache:      10_000,
		RequestTimeout:   30 * time.Second,
		TransferTimeout:  time.Hour,
	}
	if v := getenv("PROVGRAPH_OIDC_ROLE_MAP"); v != "" {
		m, err := auth.ParseRoleMap(v)
		if err == nil && len(m) == 0 {
			err = errors.New("it maps nothing")
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("PROVGRAPH_OIDC_ROLE_MAP=%q must be comma-separated claim-value=role pairs, each role reader, writer or admin, "+
				"e.g. entity-registry-read=reader,entity-registry-write=writer,entity-registry-admin=admin: %v", v, err))
		}
		c.OIDCRoleMap = m
	}
	if v := getenv("PROVGRAPH_REQUEST_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 10*time.Minute {
			bad = append(bad, fmt.Sprintf("PROVGRAPH_REQUEST_TIMEOUT=%q must be a duration from 1s to 10m, e.g. 30s", v))
		}
		c.RequestTimeout = d
	}
	if v := getenv("PROVGRAPH_TRANSFER_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute || d > 24*time.Hour {
			bad = append(bad, fmt.Sprintf("PROVGRAPH_TRANSFER_TIMEOUT=%q must be a duration from 1m to 24h, e.g. 1h", v))
		}
		c.TransferTimeout = d
	}
	if v := getenv("PROVGRAPH_MAX_BODY_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1024 || n > 1<<30 {
			bad = append(bad, fmt.Sprintf("PROVGRAPH_MAX_BODY_BYTES=%q must be a whole number of bytes from 1024 to 1073741824", v))
		}
		c.MaxBodyBytes = n
	}
	if v := getenv("PROVGRAPH_NEO4J_WAIT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > time.Minute {
			bad = append(bad, fmt.Sprintf("PROVGRAPH_NEO4J_WAIT=%q must be a duration up to 60s, e.g. 30s", v))
		}
		c.Neo4jWait = d
	}
	if v := getenv("PROVGRAPH_CYPHER_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 100*time.Millisecond || d > 5*time.Minute {
			bad = append(bad, fmt.Sprintf("PROVGRAPH_CYPHER_TIMEOUT=%q must be a duration from 100ms to 5m, e.g. 5s", v))
		}
		c.CypherTimeout = d
	}
	for _, n := range []struct {
		name string
		into *int
	}{{"PROVGRAPH_CYPHER_CONCURRENCY", &c.CypherConcurrency}, {"PROVGRAPH_CYPHER_PER_CALLER", &c.CypherPerCaller}} {
		if v := getenv(n.name); v != "" {
			k, err := strconv.Atoi(v)
			if err != nil || k < 1 || k > 64 {
				bad = append(bad, fmt.Sprintf("%s=%q must be a number of queries from 1 to 64", n.name, v))
			}
			*n.into = k
		}
	}
	if v := getenv("PROVGRAPH_RUN_LEASE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 24*time.Hour {
			bad = append(bad, fmt.Sprintf("PROVGRAPH_RUN_LEASE=%q must be a duration from 1s to 24h, e.g. 5m", v))
		}
		c.RunLease = d
	}
	if v := getenv("PROVGRAPH_RECORD_CACHE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1_000_000 {
			bad = append(bad, fmt.Sprintf("PROVGRAPH_RECORD_CACHE=%q must be a number of records from 0 (no cache) to 1000000", v))
		}
		c.RecordCache = n
	}
	if v := getenv("PROVGRAPH_MAX_ARTIFACT_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > 1<<40 {
			bad = append(bad, fmt.Sprintf("PROVGRAPH_MAX_ARTIFACT_BYTES=%q must be a whole number of bytes from 1 to 1099511627776", v))
		}
		c.MaxArtifactBytes = n
	}
	return c, bad
}

// Check reports every mistake in the configuration.
func (c *Config) Check() []string {
	var bad []string
	if host, port, err := net.SplitHostPort(c.Addr); err != nil {
		bad = append(bad, fmt.Sprintf("PROVGRAPH_ADDR=%q must be host:port, e.g. 127.0.0.1:8080", c.Addr))
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad = append(bad, fmt.Sprintf("PROVGRAPH_ADDR=%q has no valid port", c.Addr))
	} else if c.BaseIRI == "" {
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		c.BaseIRI = "http://" + net.JoinHostPort(host, port) + "/id/"
	}
	if u, err := url.Parse(c.Neo4jURI); err != nil || u.Host == "" ||
		!strings.Contains(" bolt bolt+s bolt+ssc neo4j neo4j+s neo4j+ssc ", " "+u.Scheme+" ") {
		bad = append(bad, fmt.Sprintf("PROVGRAPH_NEO4J_URI=%q must be a bolt:// or neo4j:// URI with a host", c.Neo4jURI))
	}
	if (c.Neo4jUser == "") != (c.Neo4jPassword == "") {
		bad = append(bad, "PROVGRAPH_NEO4J_USER and PROVGRAPH_NEO4J_PASSWORD go together: set both or neither")
	}
	if c.Neo4jDatabase == "" || strings.ContainsAny(c.Neo4jDatabase, " `/") {
		bad = append(bad, fmt.Sprintf("PROVGRAPH_NEO4J_DATABASE=%q is not a database name", c.Neo4jDatabase))
	}
	if c.BaseIRI != "" {
		if u, err := url.Parse(c.BaseIRI); err != nil || !u.IsAbs() || u.Host == "" || !(strings.HasSuffix(c.BaseIRI, "/") || strings.HasSuffix(c.BaseIRI, "#")) {
			bad = append(bad, fmt.Sprintf("PROVGRAPH_BASE_IRI=%q must be an absolute http(s) IRI ending in / or #", c.BaseIRI))
		}
	}
	if !validPrefix(c.IDPrefix) {
		bad = append(bad, fmt.Sprintf("PROVGRAPH_ID_PREFIX=%q may hold only letters, digits, '.', '-', '_' and '/' (not at either end)", c.IDPrefix))
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		bad = append(bad, "PROVGRAPH_ADMIN_TOKEN must be at least 16 characters")
	}
	oidc := []string{c.OIDCIssuer, c.OIDCAudience, c.OIDCJWKSURL}
	set := 0
	for _, v := range oidc {
		if v != "" {
			set++
		}
	}
	if set != 0 && set != 3 {
		bad = append(bad, "PROVGRAPH_OIDC_ISSUER, PROVGRAPH_OIDC_AUDIENCE and PROVGRAPH_OIDC_JWKS_URL go together: set all three or none")
	}
	if c.OIDCJWKSURL != "" {
		if u, err := url.Parse(c.OIDCJWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad = append(bad, fmt.Sprintf("PROVGRAPH_OIDC_JWKS_URL=%q must be an http(s) URL", c.OIDCJWKSURL))
		}
	}
	if c.ArtifactDir == "" || strings.ContainsRune(c.ArtifactDir, 0) {
		bad = append(bad, fmt.Sprintf("PROVGRAPH_ARTIFACT_DIR=%q must be a directory path", c.ArtifactDir))
	}
	if c.RequestTimeout > 0 && c.CypherTimeout >= c.RequestTimeout {
		bad = append(bad, fmt.Sprintf("PROVGRAPH_CYPHER_TIMEOUT (%s) must be shorter than PROVGRAPH_REQUEST_TIMEOUT (%s), which bounds the whole request", c.CypherTimeout, c.RequestTimeout))
	}
	if c.TransferTimeout > 0 && c.TransferTimeout < c.RequestTimeout {
		bad = append(bad, fmt.Sprintf("PROVGRAPH_TRANSFER_TIMEOUT (%s) must not be shorter than PROVGRAPH_REQUEST_TIMEOUT (%s)", c.TransferTimeout, c.RequestTimeout))
	}
	if !strings.Contains(" debug info warn error ", " "+c.LogLevel+" ") {
		bad = append(bad, fmt.Sprintf("PROVGRAPH_LOG_LEVEL=%q must be debug, info, warn or error", c.LogLevel))
	}
	return bad
}

func validPrefix(p string) bool {
	if p == "" {
		return true
	}
	if strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || len(p) > 64 {
		return false
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-/", r)) {
			return false
		}
	}
	return true
}

// configError is the one line a configuration mistake prints.
func configError(bad []string) error {
	return fmt.Errorf("configuration: %s", strings.Join(bad, "; "))
}
