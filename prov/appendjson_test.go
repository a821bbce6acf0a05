package prov

import (
	"bytes"
	"encoding/json"
	"testing"
)

// reference is what encoding/json writes without HTML escaping.
func reference(t testing.TB, v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

func TestAppendJSONIsEncodingJSON(t *testing.T) {
	for _, v := range []any{
		"", "plain", `quote " and \ backslash`, "<a href='x'>&amp;</a>", "tab\tnew\nline\r\x00\x1f\x7f",
		"ünïcødé ✓ 𝄞", "line\u2028sep\u2029", "bad \xff utf-8", 0, -3, int64(1) << 60, 2.5, 1e21, true, nil,
		[]any{"a", []any{1, "b\n"}, nil}, []string{"x", "y"}, map[string]any{"k": "v"},
	} {
		var b bytes.Buffer
		appendJSON(&b, v)
		if got, want := b.String(), reference(t, v); got != want {
			t.Errorf("%#v: %s, want %s", v, got, want)
		}
	}
	var b bytes.Buffer
	appendJSON(&b, orderedObject{{"z", "1"}, {"a", orderedObject{{"é", []any{"\n"}}}}})
	if want := `{"z":"1","a":{"é":["\n"]}}`; b.String() != want {
		t.Errorf("ordered object: %s, want %s", b.String(), want)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\", "\u2028", "\xff", "<>&", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b bytes.Buffer
		appendJSON(&b, []any{s, orderedObject{{s, s}}})
		want := "[" + reference(t, s) + ",{" + reference(t, s) + ":" + reference(t, s) + "}]"
		if b.String() != want {
			t.Fatalf("%q: %s, want %s", s, b.String(), want)
		}
	})
}
