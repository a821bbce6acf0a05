package runs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"provgraph"
	"provgraph/registry"
)

// Artifact is a file a run's executor uploaded: a PROV entity the run generated, its
// bytes kept by content in Blobs.
type Artifact struct {
	ID        string    `json:"id"`
	RunID     string    `json:"run_id"`
	Name      string    `json:"name"`
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size"`
	MediaType string    `json:"media_type"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

// ArtifactCreate is an uploaded file ready to be recorded.
type ArtifactCreate struct {
	RunID     string
	Name      string
	SHA256    string
	Size      int64
	MediaType string
	Actor     registry.Actor
	Admin     bool
	Time      time.Time
}

// ArtifactStates are the states a run takes artifacts in: those in which an executor
// holds it, which are the states a heartbeat may come from.
func ArtifactStates() []State { return From(OpHeartbeat) }

// CheckArtifactUpload says whether actor may add an artifact to a run in state, held by
// executor: storage calls it under the run's lock, the service before reading any bytes.
func CheckArtifactUpload(runID string, state State, executor, actor string, admin bool) error {
	if !slices.Contains(ArtifactStates(), state) {
		return provgraph.Errorf(provgraph.Conflict, "run %s is %s; artifacts are added only while it is %s", runID, state, strings.Join(statesNames(ArtifactStates()), " or "))
	}
	if executor != actor && !admin {
		return provgraph.Errorf(provgraph.Forbidden, "only the executor that claimed run %s (%s) may add artifacts to it", runID, executor)
	}
	return nil
}

// Blobs is a content-addressed file store: a blob lives at Dir/sha256/<aa>/<rest of its
// SHA-256>, so identical content is stored once and a name never reaches the file system.
type Blobs struct{ Dir string }

// Put streams r into the store and returns its SHA-256 (hex) and size. Content over limit
// bytes is a TooLarge error; on any error nothing is left behind. The blob is synced to
// disk and appears under its name atomically.
func (b *Blobs) Put(r io.Reader, limit int64) (sum string, size int64, err error) {
	if limit <= 0 {
		return "", 0, fmt.Errorf("blobs: limit must be positive, got %d", limit)
	}
	if err := os.MkdirAll(b.Dir, 0o750); err != nil {
		return "", 0, err
	}
	tmp, err := os.CreateTemp(b.Dir, uploadPattern)
	if err != nil {
		return "", 0, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	src := &readErr{r: io.LimitReader(r, limit+1)}
	size, err = io.Copy(io.MultiWriter(tmp, h), src)
	switch {
	case src.err != nil:
		return "", 0, provgraph.Wrap(provgraph.Invalid, src.err, "the upload could not be read")
	case err != nil:
		return "", 0, err
	case size > limit:
		return "", 0, errTooLarge(limit)
	}
	if err = tmp.Sync(); err != nil {
		return "", 0, err
	}
	if err = tmp.Close(); err != nil {
		return "", 0, err
	}
	sum = hex.EncodeToString(h.Sum(nil))
	final := b.path(sum)
	if _, err = os.Stat(final); err == nil {
		err = os.Remove(tmp.Name()) // stored already
		return sum, size, err
	}
	if err = os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return "", 0, err
	}
	if err = os.Rename(tmp.Name(), final); err != nil {
		return "", 0, err
	}
	return sum, size, syncDir(filepath.Dir(final))
}

// uploadPattern names the temporary file an upload is written to before it is renamed to
// its content's name.
const uploadPattern = ".upload-*"

// Sweep removes the temporary files of uploads that began more than age ago: a server
// killed mid-upload (kill -9, a crash, a lost machine) leaves its file behind. age must be
// at least the longest an upload may take, since another server sharing the directory
// may be writing a younger one. It reports how many it removed.
func (b *Blobs) Sweep(age time.Duration, now time.Time) (int, error) {
	tmps, err := filepath.Glob(filepath.Join(b.Dir, uploadPattern))
	if err != nil {
		return 0, err
	}
	removed := 0
	var errs []error
	for _, tmp := range tmps {
		fi, err := os.Lstat(tmp)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) { // finished meanwhile
				errs = append(errs, err)
			}
			continue
		}
		if !fi.Mode().IsRegular() || now.Sub(fi.ModTime()) <= age {
			continue
		}
		if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// Open reads the blob with this SHA-256.
func (b *Blobs) Open(sum string) (io.ReadSeekCloser, error) {
	if !isSHA256(sum) {
		return nil, provgraph.Errorf(provgraph.NotFound, "no blob %q", sum)
	}
	f, err := os.Open(b.path(sum))
	if errors.Is(err, os.ErrNotExist) {
		return nil, provgraph.Wrap(provgraph.NotFound, err, fmt.Sprintf("no blob %q", sum))
	}
	return f, err
}

func errTooLarge(limit int64) error {
	return provgraph.Errorf(provgraph.TooLarge, "the artifact is larger than %d bytes", limit)
}

func (b *Blobs) path(sum string) string {
	return filepath.Join(b.Dir, "sha256", sum[:2], sum[2:])
}

func isSHA256(s string) bool {
	if len(s) != sha256.Size*2 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// readErr remembers a read error, so that Put can tell the uploader's failures from the
// disk's.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}
