package prov

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// idSafe marks the bytes EscapeID keeps: RFC 3986 unreserved, sub-delims, ':', '@'
// and '/'. Everything else, including '%' (so the mapping is one-to-one), '#', '?'
// and every non-ASCII byte, is percent-encoded.
var idSafe = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/") {
		t[c] = true
	}
	return t
}()

// EscapeID percent-encodes a record id (or a role name or attribute key) for use
// in an IRI. See the package documentation for the rules.
func EscapeID(id string) string {
	n := 0
	for i := 0; i < len(id); i++ {
		if !idSafe[id[i]] {
			n++
		}
	}
	if n == 0 {
		return id
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(id)+2*n)
	for i := 0; i < len(id); i++ {
		c := id[i]
		if idSafe[c] {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

// UnescapeID inverts EscapeID. It fails on a string EscapeID cannot produce.
func UnescapeID(s string) (string, error) {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) {
				return "", fmt.Errorf("prov: truncated escape in %q", s)
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", fmt.Errorf("prov: bad escape in %q", s)
			}
			c = hi<<4 | lo
			if idSafe[c] {
				return "", fmt.Errorf("prov: %q escapes a character that needs none", s)
			}
			i += 2
		} else if !idSafe[c] {
			return "", fmt.Errorf("prov: %q has an unescaped %q", s, c)
		}
		b = append(b, c)
	}
	return string(b), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// IRI returns a record's IRI: base + EscapeID(id).
func IRI(base, id string) string { return base + EscapeID(id) }

// IDFromIRI returns the record id an IRI made by IRI(base, id) stands for.
func IDFromIRI(base, iri string) (string, bool) {
	rest, ok := strings.CutPrefix(iri, base)
	if !ok || rest == "" {
		return "", false
	}
	id, err := UnescapeID(rest)
	return id, err == nil
}

// checkBase accepts an absolute IRI that every format can carry unescaped.
func checkBase(base string) error {
	u, err := url.Parse(base)
	if err != nil || !u.IsAbs() {
		return fmt.Errorf("prov: base %q is not an absolute IRI", base)
	}
	for _, r := range base {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("<>\"{}|^`\\", r) {
			return fmt.Errorf("prov: base %q contains %q", base, r)
		}
	}
	if !utf8.ValidString(base) {
		return fmt.Errorf("prov: base %q is not UTF-8", base)
	}
	// A base whose scheme is one of the JSON-LD context's prefixes would read as
	// a compact IRI; one inside a vocabulary would mint ids that clash with terms.
	for _, p := range append(prefixes, struct{ name, ns string }{"id", ""}) {
		if strings.EqualFold(u.Scheme, p.name) {
			return fmt.Errorf("prov: base %q uses the scheme %q, a prefix of the JSON-LD context", base, u.Scheme)
		}
		if p.ns != "" && strings.HasPrefix(base, p.ns) {
			return fmt.Errorf("prov: base %q lies inside the vocabulary %s", base, p.ns)
		}
	}
	if strings.HasPrefix(base, NSRDF) {
		return fmt.Errorf("prov: base %q lies inside the vocabulary %s", base, NSRDF)
	}
	return nil
}

// turtleIRI writes <iri>, escaping what an IRIREF forbids. Every IRI this package
// builds is already safe; this is defence in depth.
func turtleIRI(b *strings.Builder, iri string) {
	b.WriteByte('<')
	for i := 0; i < len(iri); i++ {
		c := iri[i]
		if c <= ' ' || c == 0x7f || strings.IndexByte("<>\"{}|^`\\", c) >= 0 {
			fmt.Fprintf(b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	b.WriteByte('>')
}

// TurtleString returns s as a Turtle string literal ("..."), escaping quotes,
// backslashes and every control character. Each byte of invalid UTF-8 becomes
// U+FFFD, as it does in encoding/json, so all formats carry the same value.
func TurtleString(s string) string {
	var b strings.Builder
	turtleString(&b, s)
	return b.String()
}

func turtleString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s { // an invalid byte arrives as utf8.RuneError
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}
