package main

import (
	"maps"
	"strings"
	"testing"

	"provgraph/auth"
)

// A Provena Keycloak: roles in realm_access.roles under Provena's names, mapped by
// PROVGRAPH_OIDC_ROLE_MAP; without it, today's names and claim.
func TestConfigOIDCRoles(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	c, bad := envConfig(env())
	if len(bad) > 0 || c.OIDCRoleClaim != "roles" || c.OIDCRoleMap != nil {
		t.Fatalf("defaults: claim %q, map %v, %v", c.OIDCRoleClaim, c.OIDCRoleMap, bad)
	}
	c, bad = envConfig(env("PROVGRAPH_OIDC_ROLES_CLAIM", "realm_access.roles",
		"PROVGRAPH_OIDC_ROLE_MAP", "entity-registry-read=reader,entity-registry-write=writer,entity-registry-admin=admin"))
	want := map[string]auth.Role{"entity-registry-read": auth.Reader, "entity-registry-write": auth.Writer, "entity-registry-admin": auth.Admin}
	if len(bad) > 0 || c.OIDCRoleClaim != "realm_access.roles" || !maps.Equal(c.OIDCRoleMap, want) {
		t.Fatalf("Provena: claim %q, map %v, %v", c.OIDCRoleClaim, c.OIDCRoleMap, bad)
	}
	for _, v := range []string{"entity-registry-admin=root", "entity-registry-admin", "a=reader,a=admin", " , ", "registry admin=admin"} {
		_, bad := envConfig(env("PROVGRAPH_OIDC_ROLE_MAP", v))
		if len(bad) != 1 || !strings.Contains(bad[0], "PROVGRAPH_OIDC_ROLE_MAP") || strings.Contains(bad[0], "\n") {
			t.Errorf("%q: %v, want one line naming PROVGRAPH_OIDC_ROLE_MAP", v, bad)
		}
	}
}
