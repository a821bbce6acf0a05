package runs

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"io"
	"mime"

	"provgraph"
	"provgraph/registry"
)

// DefaultMaxArtifact bounds one artifact when Runs.MaxArtifact is not set: 1 GiB.
const DefaultMaxArtifact = 1 << 30

func (s *Runs) maxArtifact() int64 {
	if s.MaxArtifact > 0 {
		return s.MaxArtifact
	}
	return DefaultMaxArtifact
}

// Upload stores body as the artifact name of a run and records it as an entity the run
// generated. Only the run's executor (or an admin) may upload, and only while the run is
// held; that is checked before any byte is read, and again when the artifact is recorded.
// If recording fails after the bytes were stored (a race with a state change or a second
// upload of the name), the blob stays: it is content-addressed and harmless. size is the
// declared length, -1 when unknown: a declared length over the limit is refused unread.
func (s *Runs) Upload(ctx context.Context, runID, name, mediaType string, size int64, body io.Reader, actor registry.Actor, admin bool) (Artifact, error) {
	if !registry.ValidID(runID) {
		return Artifact{}, registry.ErrNotFound("run", runID)
	}
	if err := CheckArtifactName(name); err != nil {
		return Artifact{}, err
	}
	mediaType, err := checkMediaType(mediaType)
	if err != nil {
		return Artifact{}, err
	}
	r, err := s.Store.GetRun(ctx, runID)
	if err != nil {
		return Artifact{}, err
	}
	if err := CheckArtifactUpload(runID, r.State, r.Executor, actor.Subject, admin); err != nil {
		return Artifact{}, err
	}
	if _, err := s.Store.GetArtifact(ctx, runID, name); err == nil {
		return Artifact{}, ErrArtifactExists(runID, name)
	} else if provgraph.ErrorCode(err) != provgraph.NotFound {
		return Artifact{}, err
	}
	if size > s.maxArtifact() {
		return Artifact{}, errTooLarge(s.maxArtifact())
	}
	sum, size, err := s.Blobs.Put(body, s.maxArtifact())
	if err != nil {
		return Artifact{}, err
	}
	return s.Store.AddArtifact(ctx, ArtifactCreate{RunID: runID, Name: name, SHA256: sum, Size: size, MediaType: mediaType,
		Actor: actor, Admin: admin, Time: s.Now().UTC()})
}

// ErrArtifactExists is the conflict for a name a run already used.
func ErrArtifactExists(runID, name string) error {
	return provgraph.Errorf(provgraph.Conflict, "run %s already has an artifact named %q; artifacts are never replaced", runID, name)
}

// checkMediaType keeps a well-formed media type, application/octet-stream when none.
func checkMediaType(mt string) (string, error) {
	if mt == "" {
		return "application/octet-stream", nil
	}
	t, params, err := mime.ParseMediaType(mt)
	if err != nil || len(mt) > 255 {
		return "", provgraph.InvalidFields("bad media type", []provgraph.FieldError{{Path: "Content-Type", Message: "must be a media type of at most 255 bytes, e.g. text/csv"}})
	}
	return mime.FormatMediaType(t, params), nil
}

// Artifacts lists a run's artifacts by name.
func (s *Runs) Artifacts(ctx context.Context, runID string) ([]Artifact, error) {
	if !registry.ValidID(runID) {
		return nil, registry.ErrNotFound("run", runID)
	}
	return s.Store.ListArtifacts(ctx, runID)
}

// Artifact reads one artifact and opens its bytes (KFP read_artifact); the caller closes
// them.
func (s *Runs) Artifact(ctx context.Context, runID, name string) (Artifact, io.ReadSeekCloser, error) {
	if !registry.ValidID(runID) {
		return Artifact{}, nil, registry.ErrNotFound("run", runID)
	}
	if err := CheckArtifactName(name); err != nil {
		return Artifact{}, nil, err
	}
	a, err := s.Store.GetArtifact(ctx, runID, name)
	if err != nil {
		return Artifact{}, nil, err
	}
	f, err := s.Blobs.Open(a.SHA256)
	if err != nil {
		// Recorded but missing: the store lost a file.
		return Artifact{}, nil, provgraph.Wrap(provgraph.Internal, err, "the artifact's content is missing")
	}
	return a, f, nil
}

// Results writes every artifact of a SUCCEEDED run to w as a tar.gz, each under its name
// (flowserv's download of all results). Nothing is written unless the run succeeded; an
// error after the first byte leaves a truncated archive, which gzip readers detect.
func (s *Runs) Results(ctx context.Context, runID string, w io.Writer) error {
	if !registry.ValidID(runID) {
		return registry.ErrNotFound("run", runID)
	}
	r, err := s.Store.GetRun(ctx, runID)
	if err != nil {
		return err
	}
	if r.State != Succeeded {
		return provgraph.Errorf(provgraph.Conflict, "run %s is %s; its results can be downloaded once it is %s", runID, r.State, Succeeded)
	}
	arts, err := s.Store.ListArtifacts(ctx, runID)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	for _, a := range arts {
		if err := s.writeTarEntry(tw, a); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

func (s *Runs) writeTarEntry(tw *tar.Writer, a Artifact) error {
	f, err := s.Blobs.Open(a.SHA256)
	if err != nil {
		return provgraph.Wrap(provgraph.Internal, err, "an artifact's content is missing")
	}
	defer f.Close()
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: a.Name, Size: a.Size, Mode: 0o644, ModTime: a.CreatedAt}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}
