package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// duplicateKeyByTokens is the walk DuplicateKey replaced: encoding/json's tokens, the
// keys as encoding/json would decode them. The fuzz target holds the two equal.
func duplicateKeyByTokens(doc []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	var walk func(at string) (string, bool)
	walk = func(at string) (string, bool) {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return "", false
		}
		switch d {
		case '{':
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return "", false
				}
				key, _ := kt.(string)
				if seen[key] {
					return at + "/" + escape(key), true
				}
				seen[key] = true
				if p, dup := walk(at + "/" + escape(key)); dup {
					return p, true
				}
			}
		case '[':
			for i := 0; dec.More(); i++ {
				if p, dup := walk(fmt.Sprintf("%s/%d", at, i)); dup {
					return p, true
				}
			}
		}
		_, _ = dec.Token()
		return "", false
	}
	return walk("")
}

func FuzzDuplicateKeyAsEncodingJSONSeesIt(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"a":2}`, `{"a":{"b":[1,{"c":1,"c":2}]}}`, `{"\u0061":1,"a":2}`, `{"a\/b":1,"a/b":2}`,
		`{"x":"\ud800","y":1,"y":2}`, "{\"a\xff\":1,\"a\xfe\":2}", "{\"a\xff\xff\":1,\"a\xff\":2}",
		`[{"k":1},{"k":1}]`, `{"a":1}`, `{"~":{"/":{"e":1,"e":2}}}`, `not json`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var v any
		if json.Unmarshal(doc, &v) != nil {
			return // Validate refuses it before asking
		}
		gotP, got := DuplicateKey(doc)
		wantP, want := duplicateKeyByTokens(doc)
		if got != want || gotP != wantP {
			t.Fatalf("%q: %q %v, encoding/json's tokens say %q %v", doc, gotP, got, wantP, want)
		}
	})
}

// A model run as the benchmark sends it, to compare the two walks.
var benchDoc = []byte(`{"workflow_template_id":"bench/01J0000000000000000000000A","display_name":"run 1","description":"d",
"study_id":"bench/01J0000000000000000000000B","inputs":[{"dataset_template_id":"bench/01J0000000000000000000000C","dataset_id":"bench/01J0000000000000000000000D","resources":{"forcing":"f.nc"}},
{"dataset_template_id":"bench/01J0000000000000000000000E","dataset_id":"bench/01J0000000000000000000000F","resources":{"forcing":"g.nc"}}],
"outputs":[{"dataset_template_id":"bench/01J0000000000000000000000G","dataset_id":"bench/01J0000000000000000000000H","resources":{"forcing":"o.nc"}}],
"annotations":{"scenario":"ssp245","notes":"n"},"associations":{"modeller_id":"bench/01J0000000000000000000000I","requesting_organisation_id":"bench/01J0000000000000000000000J"},
"start_time":1709251200,"end_time":1709254800}`)

func BenchmarkDuplicateKey(b *testing.B) {
	for _, c := range []struct {
		name string
		fn   func([]byte) (string, bool)
	}{{"jsontext", DuplicateKey}, {"tokens", duplicateKeyByTokens}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, dup := c.fn(benchDoc); dup {
					b.Fatal("dup")
				}
			}
		})
	}
}
