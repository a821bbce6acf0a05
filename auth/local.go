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
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// TokenRecord is one local token as stored: never the token itself, only its digest.
type TokenRecord struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	SHA256    string    `json:"sha256"`
	CreatedAt time.Time `json:"created_at"`
}

type tokenFile struct {
	Tokens []TokenRecord `json:"tokens"`
}

const localPrefix = "pgt_"

// CreateLocalToken adds a token to the file and returns it; it is shown only now. Local
// tokens carry 256 random bits, so an unsalted SHA-256 digest is enough at rest.
func CreateLocalToken(path, name string, role Role) (string, TokenRecord, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return "", TokenRecord{}, err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", TokenRecord{}, err
	}
	id := make([]byte, 6)
	if _, err := rand.Read(id); err != nil {
		return "", TokenRecord{}, err
	}
	token := localPrefix + base64.RawURLEncoding.EncodeToString(secret)
	digest := sha256.Sum256([]byte(token))
	rec := TokenRecord{ID: hex.EncodeToString(id), Name: name, Role: role, SHA256: hex.EncodeToString(digest[:]), CreatedAt: time.Now().UTC()}
	err := withLock(path, func() error {
		f, err := readTokenFile(path)
		if err != nil {
			return err
		}
		f.Tokens = append(f.Tokens, rec)
		return writeTokenFile(path, f)
	})
	if err != nil {
		return "", TokenRecord{}, err
	}
	return token, rec, nil
}

// ListLocalTokens lists the stored tokens (digests included: they are not secrets).
func ListLocalTokens(path string) ([]TokenRecord, error) {
	f, err := readTokenFile(path)
	return f.Tokens, err
}

// withLock serialises writers across processes with flock on a sibling lock file.
func withLock(path string, fn func() error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	lf, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	return fn()
}

func readTokenFile(path string) (tokenFile, error) {
	var f tokenFile
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("token file %s is not valid JSON: %w", path, err)
	}
	return f, nil
}

func writeTokenFile(path string, f tokenFile) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tokens-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// LocalStore authenticates against the token file, reloading it when it changes so that
// a token created while the server runs works at once.
type LocalStore struct {
	path    string
	mu      sync.Mutex
	modTime time.Time
	size    int64
	loaded  bool
	tokens  []TokenRecord
	digests [][32]byte
}

// LocalTokens returns the store for path; a missing file holds no tokens.
func LocalTokens(path string) *LocalStore { return &LocalStore{path: path} }

// Recognises local tokens by their prefix.
func (s *LocalStore) Recognises(bearer string) bool {
	return len(bearer) > len(localPrefix) && bearer[:len(localPrefix)] == localPrefix
}

// HasAny reports whether the file holds any token.
func (s *LocalStore) HasAny() (bool, error) {
	if err := s.reload(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens) > 0, nil
}

func (s *LocalStore) reload() error {
	st, err := os.Stat(s.path)
	s.mu.Lock()
	defer s.mu.Unlock()
	if errors.Is(err, fs.ErrNotExist) {
		s.tokens, s.digests, s.loaded = nil, nil, true
		return nil
	}
	if err != nil {
		return err
	}
	if s.loaded && st.ModTime().Equal(s.modTime) && st.Size() == s.size {
		return nil
	}
	f, err := readTokenFile(s.path)
	if err != nil {
		return err
	}
	digests := make([][32]byte, 0, len(f.Tokens))
	for _, t := range f.Tokens {
		var d [32]byte
		if b, err := hex.DecodeString(t.SHA256); err == nil && len(b) == 32 {
			copy(d[:], b)
		}
		digests = append(digests, d)
	}
	s.tokens, s.digests, s.modTime, s.size, s.loaded = f.Tokens, digests, st.ModTime(), st.Size(), true
	return nil
}

// Authenticate compares the token's digest with every stored digest, without stopping
// at a match, so timing says nothing about which entry matched.
func (s *LocalStore) Authenticate(_ context.Context, bearer string) (Principal, error) {
	if err := s.reload(); err != nil {
		return Principal{}, err
	}
	d := sha256.Sum256([]byte(bearer))
	s.mu.Lock()
	defer s.mu.Unlock()
	match := -1
	for i := range s.digests {
		if subtle.ConstantTimeCompare(d[:], s.digests[i][:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return Principal{}, errBadToken
	}
	t := s.tokens[match]
	return Principal{Subject: "local:" + t.ID, Name: t.Name, Role: t.Role}, nil
}
