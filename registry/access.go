package registry

import (
	"fmt"
	"regexp"
	"slices"

	"provgraph"
)

// Viewer is who reads. A record restricted to groups is seen only by a member of one of
// them, or by a viewer who sees everything (an admin); an unrestricted record by anyone
// who may read at all. The zero Viewer sees only unrestricted records: a reader nobody
// described is never shown more than the least.
type Viewer struct {
	All    bool
	Groups []string
}

// Everyone sees every record: for the server's own reads and for admins.
var Everyone = Viewer{All: true}

// Sees says whether v may read a record restricted to groups (none: unrestricted).
func (v Viewer) Sees(groups []string) bool {
	return v.All || len(groups) == 0 || slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(v.Groups, g) })
}

// Access is who may read a record besides admins: members of ReadGroups; when empty,
// every reader.
type Access struct {
	ID         string   `json:"id"`
	ReadGroups []string `json:"read_groups"`
}

// MaxReadGroups bounds a record's access list.
const MaxReadGroups = 32

// GroupPattern is what a group name looks like, and GroupRule says it in words.
const (
	GroupPattern = `^[A-Za-z0-9/][A-Za-z0-9._:@/-]{0,127}$`
	GroupRule    = "1 to 128 letters, digits and . _ : @ / -, starting with a letter, digit or /"
)

var groupName = regexp.MustCompile(GroupPattern)

// ValidGroup says whether s may name a group: what identity providers put in a groups
// claim (names, paths, URNs), without spaces or commas.
func ValidGroup(s string) bool { return groupName.MatchString(s) }

// CheckReadGroups validates an access list and returns it sorted, without repeats. A
// viewer who does not see everything must keep themselves in: a record nobody but an
// admin could read again is more likely a slip than an intent.
func CheckReadGroups(groups []string, setter Viewer) ([]string, error) {
	var errs []provgraph.FieldError
	if len(groups) > MaxReadGroups {
		errs = append(errs, provgraph.FieldError{Path: "/read_groups", Message: fmt.Sprintf("at most %d groups", MaxReadGroups)})
	}
	for i, g := range groups {
		if !ValidGroup(g) {
			errs = append(errs, provgraph.FieldError{Path: fmt.Sprintf("/read_groups/%d", i),
				Message: "a group name is " + GroupRule})
		}
	}
	if len(errs) == 0 && len(groups) > 0 && !setter.Sees(groups) {
		errs = append(errs, provgraph.FieldError{Path: "/read_groups", Message: "name a group you are in, or you could not read the record yourself"})
	}
	if len(errs) > 0 {
		return nil, provgraph.InvalidFields("the access list is not valid", errs)
	}
	out := slices.Clone(groups)
	slices.Sort(out)
	return slices.Compact(out), nil
}
