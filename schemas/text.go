package schemas

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"provgraph"
)

// CheckText finds every string of a JSON document, object keys included, that is not
// Unicode text: bytes that are not UTF-8, or a \u escape of a lone surrogate
// ("\ud800"). encoding/json would keep either as U+FFFD, so what was stored would not be
// what was sent; they are refused instead, each named by its JSON pointer (a key's is the
// pointer to its member, its bad part shown as U+FFFD). A document that is not JSON at
// all is left to the parser, which says where.
func CheckText(doc []byte) []provgraph.FieldError {
	if utf8.Valid(doc) && !surrogateEscape(doc) {
		return nil // the common case, at the speed of a scan
	}
	d := jsontext.NewDecoder(bytes.NewReader(doc), jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))
	var out []provgraph.FieldError
	if err := walkText(d, "", &out); err != nil && !errors.Is(err, io.EOF) && len(out) == 0 {
		return nil
	}
	return out
}

const notText = "is not valid UTF-8 text (a byte that is not UTF-8 or a lone surrogate such as \\ud800)"

func walkText(d *jsontext.Decoder, ptr string, out *[]provgraph.FieldError) error {
	switch d.PeekKind() {
	case '{':
		if _, err := d.ReadToken(); err != nil {
			return err
		}
		for d.PeekKind() != '}' {
			name, err := d.ReadValue()
			if err != nil {
				return err
			}
			key, _ := jsontext.AppendUnquote(nil, name) // mangled to U+FFFD where bad
			member := ptr + "/" + escape(string(key))
			if !name.IsValid() {
				*out = append(*out, provgraph.FieldError{Path: member, Message: "this key " + notText})
			}
			if err := walkText(d, member, out); err != nil {
				return err
			}
		}
		_, err := d.ReadToken()
		return err
	case '[':
		if _, err := d.ReadToken(); err != nil {
			return err
		}
		for i := 0; d.PeekKind() != ']'; i++ {
			if err := walkText(d, ptr+"/"+strconv.Itoa(i), out); err != nil {
				return err
			}
		}
		_, err := d.ReadToken()
		return err
	case '"':
		v, err := d.ReadValue()
		if err == nil && !v.IsValid() {
			*out = append(*out, provgraph.FieldError{Path: ptr, Message: notText})
		}
		return err
	default:
		_, err := d.ReadValue()
		return err
	}
}

// surrogateEscape says whether doc may hold a \u escape in the surrogate range
// (\ud800-\udfff); a valid pair is then checked by the slow path too.
func surrogateEscape(doc []byte) bool {
	for i := 0; ; {
		j := bytes.Index(doc[i:], []byte(`\u`))
		if j < 0 {
			return false
		}
		i += j + 2
		if i+1 < len(doc) && (doc[i] == 'd' || doc[i] == 'D') && bytes.IndexByte([]byte("89abcdefABCDEF"), doc[i+1]) >= 0 {
			return true
		}
	}
}
