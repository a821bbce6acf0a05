package auth

import (
	"context"

	"provgraph/registry"
)

type principalKey struct{}

// NewContext carries the authenticated caller of a request.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext is the caller NewContext carried; the zero Principal, which may do
// nothing, when there is none.
func FromContext(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}

// Actor is p as the registry knows a writer: who it is, and what it may read.
func (p Principal) Actor() registry.Actor {
	return registry.Actor{Subject: p.Subject, Name: p.Name, Viewer: p.Viewer()}
}

// Viewer is what p may read: every record for an admin, else the unrestricted ones and
// those restricted to one of its groups.
func (p Principal) Viewer() registry.Viewer {
	return registry.Viewer{All: p.Role.Allows(Admin), Groups: p.Groups}
}
