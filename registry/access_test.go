package registry

import (
	"fmt"
	"slices"
	"testing"

	"provgraph"
)

func TestCheckReadGroups(t *testing.T) {
	member := Viewer{Groups: []string{"reef"}}
	many := make([]string, MaxReadGroups+1)
	for i := range many {
		many[i] = fmt.Sprint("g", i)
	}
	for _, c := range []struct {
		name   string
		groups []string
		setter Viewer
		want   []string // nil with fields: refused
		fields []string
	}{
		{"sorted, repeats dropped", []string{"reef", "aims", "reef"}, member, []string{"aims", "reef"}, nil},
		{"empty opens it", []string{}, member, []string{}, nil},
		{"an OIDC path", []string{"/aims/modellers", "reef"}, member, []string{"/aims/modellers", "reef"}, nil},
		{"an admin need not be in one", []string{"aims"}, Everyone, []string{"aims"}, nil},
		{"locks the setter out", []string{"aims"}, member, nil, []string{"/read_groups"}},
		{"bad names, each named", []string{"reef", "a b", "-x"}, member, nil, []string{"/read_groups/1", "/read_groups/2"}},
		{"too many", many, Everyone, nil, []string{"/read_groups"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := CheckReadGroups(c.groups, c.setter)
			if c.fields == nil {
				if err != nil || !slices.Equal(got, c.want) {
					t.Fatalf("got %q, %v; want %q", got, err, c.want)
				}
				return
			}
			pe, ok := err.(*provgraph.Error)
			if !ok || pe.Code != provgraph.Invalid {
				t.Fatalf("err = %v, want invalid", err)
			}
			var paths []string
			for _, f := range pe.Fields {
				paths = append(paths, f.Path)
			}
			if !slices.Equal(paths, c.fields) {
				t.Fatalf("fields %q, want %q", paths, c.fields)
			}
		})
	}
}
