package schemas

import (
	"slices"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

func TestCheckText(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // pointers
	}{
		{"plain", `{"a":"b","c":[1,"d"]}`, nil},
		{"escaped pair is text", `{"a":"\ud83d\ude00","\uD83D\uDE00":1}`, nil},
		{"escaped backslash before u", `{"a":"\\ud800"}`, nil},
		{"lone high surrogate", `{"a":{"b":["x","\ud800"]}}`, []string{"/a/b/1"}},
		{"lone low surrogate, upper case", `{"a":"\uDC00"}`, []string{"/a"}},
		{"pair reversed", `{"a":"\udc00\ud800"}`, []string{"/a"}},
		{"high surrogate at the end of a string", `{"a":"x\ud83d"}`, []string{"/a"}},
		{"not UTF-8", "{\"a\":[1,\"\xff\"]}", []string{"/a/1"}},
		{"overlong encoding", "{\"a\":\"\xc0\xaf\"}", []string{"/a"}},
		{"key with a lone surrogate", `{"a\ud800b":1}`, []string{"/a\ufffdb"}},
		{"key not UTF-8, and a value below it", "{\"k\xffz\":{\"q\":\"\\udfff\"}}", []string{"/k\ufffdz", "/k\ufffdz/q"}},
		{"every one, in order", "[\"\\ud800\",{\"x~/y\":\"\\ud800\"},\"ok\",\"\xfe\"]", []string{"/0", "/1/x~0~1y", "/3"}},
		{"not JSON is the parser's to report", `{"a":`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range CheckText([]byte(tt.doc)) {
				got = append(got, f.Path)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("CheckText(%q) = %q, want %q", tt.doc, got, tt.want)
			}
		})
	}
}

// TestDecodeRefusesWhatIsNotText: a schema-checked body never reaches the store with a
// string encoding/json would have changed.
func TestDecodeRefusesWhatIsNotText(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	_, errs := s.Decode("study", []byte(`{"title":"t\ud800","description":"d"}`))
	if len(errs) != 1 || errs[0].Path != "/title" {
		t.Fatalf("errors %+v, want one at /title", errs)
	}
}

// FuzzCheckText: of the documents that parse when bad text is allowed, CheckText passes
// exactly those that are valid with it forbidden.
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{`{"a":"\ud800"}`, "{\"\xff\":1}", `["\ud83d\ude00"]`, `{"a":[{"b":"\\u"}]}`, `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if !jsontext.Value(doc).IsValid(jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true)) {
			return
		}
		strict := jsontext.Value(doc).IsValid(jsontext.AllowDuplicateNames(true))
		if got := len(CheckText(doc)) == 0; got != strict {
			t.Fatalf("CheckText(%q) passes: %v; strict parse valid: %v", doc, got, strict)
		}
	})
}
