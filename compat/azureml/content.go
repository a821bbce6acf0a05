package azureml

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"sync"

	"github.com/gorilla/mux"

	"provgraph"
)

// The content (snapshot) service. The SDK snapshots a project before every submit: it
// diffs the project against the workspace's latest snapshot, asks getblob for upload URLs
// of what changed, puts the files there and creates the snapshot with its directory tree
// (every file's hash). Its uploads go to Azure blob storage only (the SDK builds the host
// https://<account>.blob.<suffix> itself), so provgraph cannot take the bytes: getblob
// answers no upload URLs, and a snapshot is its manifest (the tree of hashes, kept
// content-addressed in the blob store and named by the run that uses it). A project's
// bytes reach provgraph through startrun's project zip (AML_FORCE_EXECUTE_WITH_ZIP=1) or a
// local run's agent.

var snapshotIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// snapshots caches the manifests of snapshot ids (kept durably in Config.Snapshots) for
// the runs submitted from them. Bounded: past maxSnapshots the oldest half goes.
type snapshots struct {
	mu    sync.Mutex
	m     map[string]Blob
	order []string
}

const maxSnapshots = 4096

func (s *snapshots) put(id string, b Blob) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]Blob{}
	}
	if len(s.order) >= maxSnapshots {
		for _, old := range s.order[:maxSnapshots/2] {
			delete(s.m, old)
		}
		s.order = append([]string(nil), s.order[maxSnapshots/2:]...)
	}
	if _, ok := s.m[id]; !ok {
		s.order = append(s.order, id)
	}
	s.m[id] = b
}

func (s *snapshots) get(id string) (Blob, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[id]
	return b, ok
}

// latestSnapshot answers that the workspace has no snapshot to diff against, so the SDK
// sends its whole tree.
func (a *api) latestSnapshot(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, http.StatusOK, map[string]any{"id": nil, "root": map[string]any{}})
}

// getBlob answers no upload URLs (see above).
func (a *api) getBlob(w http.ResponseWriter, r *http.Request) {
	var in struct {
		FileNames []string `json:"FileNames"`
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		Fail(w, r, bodyError(err))
		return
	}
	if err := json.Unmarshal(body, &in); err != nil {
		Fail(w, r, invalid("FileNames", "the body must be {\"FileNames\": [...]}"))
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"fileNodes": []any{}})
}

// createSnapshot keeps a snapshot's manifest as the SDK sent it.
func (a *api) createSnapshot(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["snapshot"]
	if !snapshotIDPattern.MatchString(id) {
		Fail(w, r, invalid("snapshotId", "letters, digits, '_' and '-', at most 128"))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		Fail(w, r, bodyError(err))
		return
	}
	var m struct {
		DirTreeNode json.RawMessage `json:"DirTreeNode"`
	}
	if json.Unmarshal(body, &m) != nil || len(m.DirTreeNode) == 0 {
		Fail(w, r, invalid("DirTreeNode", "a snapshot is created with its directory tree"))
		return
	}
	sum, size, err := a.Blobs.Put(bytes.NewReader(body), int64(len(body))+1)
	if err != nil {
		Fail(w, r, provgraph.Wrap(provgraph.Internal, err, "the snapshot could not be kept"))
		return
	}
	if err := a.Snapshots.PutSnapshot(r.Context(), id, sum, size); err != nil {
		Fail(w, r, err)
		return
	}
	a.snaps.put(id, Blob{SHA256: sum, Size: size, Name: "snapshot.json"})
	writeJSON(w, r, http.StatusOK, map[string]any{"id": id, "parentSnapshotId": nil})
}

// snapshot finds a snapshot's manifest: in the cache, else in the durable index (a
// snapshot made before this server started); ok is false for an id never created.
func (a *api) snapshot(ctx context.Context, id string) (Blob, bool, error) {
	if b, ok := a.snaps.get(id); ok {
		return b, true, nil
	}
	sum, size, ok, err := a.Snapshots.Snapshot(ctx, id)
	if err != nil || !ok {
		return Blob{}, false, err
	}
	b := Blob{SHA256: sum, Size: size, Name: "snapshot.json"}
	a.snaps.put(id, b)
	return b, true, nil
}
