package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"provgraph"
	"provgraph/registry"
)

// localPrefix starts every local token, so Chain can route it without trying OIDC.
const localPrefix = "pgt_"

// TokenRecord describes one local token. The file also holds its SHA-256 digest, never
// the token itself.
type TokenRecord struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Groups    []string  `json:"groups,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// storedToken is a TokenRecord as written to the file.
type storedToken struct {
	TokenRecord
	SHA256 string `json:"sha256"`
}

type tokenFile struct {
	Tokens []storedToken `json:"tokens"`
}

const maxTokenName = 200

// CreateLocalToken adds a token to the file at path and returns it; it is shown only now.
// The token carries 256 random bits, so an unsalted SHA-256 digest is safe at rest and
// cheap to check on every request. Writers in any process are serialised by a lock file,
// and the file is replaced atomically, so readers never see half a file.
// Groups open the records restricted to them to the token's holder.
func CreateLocalToken(path, name string, role Role, groups ...string) (token string, rec TokenRecord, err error) {
	role, err = ParseRole(string(role))
	if err != nil {
		return "", TokenRecord{}, err
	}
	for _, g := range groups {
		if !registry.ValidGroup(g) {
			return "", TokenRecord{}, provgraph.InvalidFields("not a group name",
				[]provgraph.FieldError{{Path: "groups", Message: fmt.Sprintf("%q: %s", g, registry.GroupRule)}})
		}
	}
	name = strings.TrimSpace(name)
	if len(name) > maxTokenName {
		return "", TokenRecord{}, provgraph.InvalidFields("the token name is too long",
			[]provgraph.FieldError{{Path: "name", Message: "at most 200 bytes"}})
	}
	secret := make([]byte, 32)
	rand.Read(secret) // never fails (crypto/rand, Go 1.24+)
	token = localPrefix + base64.RawURLEncoding.EncodeToString(secret)
	digest := sha256.Sum256([]byte(token))
	rec = TokenRecord{Name: name, Role: role, Groups: groups, CreatedAt: time.Now().UTC().Truncate(time.Second)}

	err = withLock(path, func() error {
		f, err := readTokenFile(path)
		if err != nil {
			return err
		}
		for rec.ID == "" || slices.ContainsFunc(f.Tokens, func(t storedToken) bool { return t.ID == rec.ID }) {
			rec.ID = randomID()
		}
		f.Tokens = append(f.Tokens, storedToken{TokenRecord: rec, SHA256: hex.EncodeToString(digest[:])})
		return writeTokenFile(path, f)
	})
	if err != nil {
		return "", TokenRecord{}, err
	}
	return token, rec, nil
}

func randomID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ListLocalTokens lists the tokens in the file, without their digests. A missing file
// holds none.
func ListLocalTokens(path string) ([]TokenRecord, error) {
	f, err := readTokenFile(path)
	if err != nil {
		return nil, err
	}
	recs := make([]TokenRecord, len(f.Tokens))
	for i, t := range f.Tokens {
		recs[i] = t.TokenRecord
	}
	return recs, nil
}

// withLock runs fn holding an exclusive flock on path+".lock". flock locks belong to the
// open file, so goroutines of one process exclude each other as well as processes do. The
// lock file is never removed: removing it would let two writers lock different files.
func withLock(path string, fn func() error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fileError(err)
	}
	lf, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fileError(err)
	}
	defer lf.Close() // closing releases the lock
	for {
		err = syscall.Flock(int(lf.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return fileError(err)
	}
	return fn()
}

func fileError(err error) error {
	return provgraph.Wrap(provgraph.Internal, err, "the token file could not be used")
}

func readTokenFile(path string) (tokenFile, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return tokenFile{}, nil
	}
	if err != nil {
		return tokenFile{}, fileError(err)
	}
	defer f.Close()
	return decodeTokenFile(f)
}

func decodeTokenFile(r io.Reader) (tokenFile, error) {
	var tf tokenFile
	if err := json.NewDecoder(r).Decode(&tf); err != nil && !errors.Is(err, io.EOF) {
		return tokenFile{}, provgraph.Wrap(provgraph.Internal, err, "the token file is not valid JSON")
	}
	return tf, nil
}

// writeTokenFile replaces path by a fully written, synced temporary file, so a crash
// leaves either the old file or the new one.
func writeTokenFile(path string, tf tokenFile) error {
	b, err := json.MarshalIndent(tf, "", "  ")
	if err != nil {
		return fileError(err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*") // created 0600
	if err != nil {
		return fileError(err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fileError(err)
	}
	// Make the rename itself durable.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// LocalStore authenticates local tokens against the file. It rereads the file whenever
// it is replaced or changes size or mtime, so a token created by the CLI while the server
// runs works at once, and one removed by hand stops working at once.
type LocalStore struct {
	path string

	mu      sync.Mutex
	info    fs.FileInfo // of the loaded file; nil when none was loaded
	tokens  []TokenRecord
	digests [][sha256.Size]byte
}

var _ Recogniser = (*LocalStore)(nil)

// LocalTokens returns the store for the file at path; a missing file holds no tokens.
func LocalTokens(path string) *LocalStore { return &LocalStore{path: path} }

// Recognises local tokens by their prefix.
func (s *LocalStore) Recognises(bearer string) bool {
	return len(bearer) > len(localPrefix) && strings.HasPrefix(bearer, localPrefix)
}

// HasAny reports whether the file holds any token.
func (s *LocalStore) HasAny() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reload(); err != nil {
		return false, err
	}
	return len(s.tokens) > 0, nil
}

// Authenticate compares the token's digest with every stored digest and selects the
// match without branching, so the timing says nothing about whether or where it matched.
func (s *LocalStore) Authenticate(_ context.Context, bearer string) (Principal, error) {
	d := sha256.Sum256([]byte(bearer))
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reload(); err != nil {
		return Principal{}, err
	}
	match := -1
	for i := range s.digests {
		eq := subtle.ConstantTimeCompare(d[:], s.digests[i][:])
		match = subtle.ConstantTimeSelect(eq, i, match)
	}
	if match < 0 {
		return Principal{}, errBadToken()
	}
	t := s.tokens[match]
	return Principal{Subject: "local:" + t.ID, Name: t.Name, Role: t.Role, Groups: t.Groups}, nil
}

// reload rereads the file if it is not the one loaded. The file is only ever replaced by
// rename, so a new inode is the reliable signal; size and mtime catch edits in place.
// The caller holds s.mu.
func (s *LocalStore) reload() error {
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		s.info, s.tokens, s.digests = nil, nil, nil
		return nil
	}
	if err != nil {
		return fileError(err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the contents read match the info kept.
	st, err := f.Stat()
	if err != nil {
		return fileError(err)
	}
	if s.info != nil && os.SameFile(s.info, st) && st.Size() == s.info.Size() && st.ModTime().Equal(s.info.ModTime()) {
		return nil
	}
	tf, err := decodeTokenFile(f)
	if err != nil {
		// Fail closed: serving the previous contents could keep a revoked token alive.
		return err
	}
	tokens := make([]TokenRecord, 0, len(tf.Tokens))
	digests := make([][sha256.Size]byte, 0, len(tf.Tokens))
	for _, t := range tf.Tokens {
		var d [sha256.Size]byte
		if len(t.SHA256) != hex.EncodedLen(sha256.Size) {
			continue // a damaged entry matches nothing
		}
		if _, err := hex.Decode(d[:], []byte(t.SHA256)); err != nil {
			continue // a damaged entry matches nothing
		}
		if r, err := ParseRole(string(t.Role)); err == nil {
			t.Role = r
		} else {
			t.Role = "" // authenticates, but allows nothing
		}
		tokens = append(tokens, t.TokenRecord)
		digests = append(digests, d)
	}
	s.info, s.tokens, s.digests = st, tokens, digests
	return nil
}
