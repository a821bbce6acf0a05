// Package apiclient is the small HTTP client the demo and the benchmark use to talk to a
// provgraph server the way any user's program would: REST, a bearer token, JSON bodies.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Client talks to one provgraph server.
type Client struct {
	Base  string // e.g. http://127.0.0.1:8080
	Token string
	HTTP  *http.Client
}

// New returns a client whose connection pool keeps up to conns idle connections, so a
// benchmark at that concurrency never pays for a new TCP connection per request.
func New(base, token string, conns int) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns + 4
	tr.MaxIdleConnsPerHost = conns + 4
	return &Client{Base: strings.TrimSuffix(base, "/"), Token: token, HTTP: &http.Client{Transport: tr, Timeout: 5 * time.Minute}}
}

// Response is a read answer.
type Response struct {
	Status int
	Body   []byte
	Header http.Header
}

// JSON decodes the body into v.
func (r Response) JSON(v any) error { return json.Unmarshal(r.Body, v) }

// APIError is a non-2xx answer, with the server's error body.
type APIError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *APIError) Error() string {
	body := e.Body
	if len(body) > 600 {
		body = body[:600] + "…"
	}
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, body)
}

// Do sends one request. body may be nil, a []byte, a string or anything JSON-encodable.
// headers are name, value pairs.
func (c *Client) Do(ctx context.Context, method, path string, body any, headers ...string) (Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			return Response{}, err
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return Response{}, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, err
	}
	return Response{Status: resp.StatusCode, Body: b, Header: resp.Header}, nil
}

// Create registers one record in a collection (e.g. "organisations", "model-runs") and
// returns its id. With an idempotency key, a transport error or 503 is retried with the
// same key, so a retry can never register the record twice.
func (c *Client) Create(ctx context.Context, collection string, doc any, idemKey string) (string, error) {
	path := "/api/v1/" + collection
	var headers []string
	if idemKey != "" {
		headers = []string{"Idempotency-Key", idemKey}
	}
	attempts := 1
	if idemKey != "" {
		attempts = 4
	}
	var last error
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(time.Duration(i) * 500 * time.Millisecond):
			}
		}
		r, err := c.Do(ctx, "POST", path, doc, headers...)
		switch {
		case err != nil:
			last = err
			continue
		case r.Status == http.StatusServiceUnavailable:
			last = &APIError{"POST", path, r.Status, string(r.Body)}
			continue
		case r.Status != http.StatusCreated:
			return "", &APIError{"POST", path, r.Status, string(r.Body)}
		}
		var rec struct {
			ID string `json:"id"`
		}
		if err := r.JSON(&rec); err != nil || rec.ID == "" {
			return "", fmt.Errorf("POST %s: 201 without an id: %s", path, r.Body)
		}
		return rec.ID, nil
	}
	return "", last
}

// Ready checks that the server answers /healthz and /readyz; the error says what to do.
// Whether the token may write shows at the first write.
func (c *Client) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r, err := c.Do(ctx, "GET", "/healthz", nil)
	if err != nil {
		return fmt.Errorf("no provgraph server answers at %s (%v); start one with `make run` or set PROVGRAPH_ADDR", c.Base, unwrapURL(err))
	}
	if r.Status != http.StatusOK {
		return fmt.Errorf("%s/healthz answered %d: is this a provgraph server?", c.Base, r.Status)
	}
	r, err = c.Do(ctx, "GET", "/readyz", nil)
	if err != nil || r.Status != http.StatusOK {
		return fmt.Errorf("provgraph at %s is up but not ready (Neo4j away or constraints not online): %d %s", c.Base, r.Status, r.Body)
	}
	return nil
}

func unwrapURL(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}
