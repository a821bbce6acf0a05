package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// A foreign API's section measures a cycle through its wire routes against the same
// operations on the native routes, in interleaved pairs of phases (native first, then the
// wire first, …) so that the machine's drift moves both sides of each ratio alike. One
// record is one cycle.
type versus struct {
	section      string
	native, wire string  // the phases' labels; %d is the pair
	target       float64 // wire cycles/s over native cycles/s
	row          string  // the targets table's name of the ratio
}

const (
	versusPairs = 3
	versusPhase = 3 * time.Second // at most; shorter when -duration is
)

// skipped is the section's answer when the server does not serve the API.
func (b *bench) skipped(v versus, api string) []result {
	why := "the server has no " + api + " API"
	fmt.Fprintf(b.log, "   skipped: %s\n", why)
	return []result{{Section: v.section, Label: api, Skipped: why}}
}

// pairs warms both cycles up and measures them in interleaved pairs.
func (b *bench) pairs(ctx context.Context, v versus, native, wire op) []result {
	if b.opt.warmup > 0 {
		drive(ctx, phase{Concurrency: b.opt.pairsC, Duration: b.opt.warmup / 2}, &b.seq, native)
		drive(ctx, phase{Concurrency: b.opt.pairsC, Duration: b.opt.warmup / 2}, &b.seq, wire)
	}
	d := min(b.opt.duration, versusPhase)
	var out []result
	for i := 1; i <= versusPairs; i++ {
		n := func() result {
			return b.measureOne(ctx, v.section, fmt.Sprintf(v.native, i), 1, b.opt.pairsC, d, native)
		}
		w := func() result { return b.measureOne(ctx, v.section, fmt.Sprintf(v.wire, i), 1, b.opt.pairsC, d, wire) }
		if i%2 == 1 {
			nr := n()
			out = append(out, nr, w())
		} else {
			wr := w()
			out = append(out, n(), wr)
		}
	}
	return out
}

// versusTarget is the section's line of the targets table: each pair's ratio (with its
// rates) and their median against the target.
func (rep report) versusTarget(p func(string, ...any), v versus) {
	var shares []float64
	var each []string
	for i := 1; ; i++ {
		n, ok1 := rep.find(v.section, rep.Options.pairsC, 1, fmt.Sprintf(v.native, i))
		w, ok2 := rep.find(v.section, rep.Options.pairsC, 1, fmt.Sprintf(v.wire, i))
		if !ok1 || !ok2 || n.Rate() == 0 {
			break
		}
		shares = append(shares, w.Rate()/n.Rate())
		each = append(each, fmt.Sprintf("%.0f%% (%.1f / %.1f)", w.Rate()/n.Rate()*100, w.Rate(), n.Rate()))
	}
	if len(shares) == 0 {
		return
	}
	med := median(shares)
	verdict := "met"
	if med < v.target {
		verdict = "**missed**"
	}
	p("| %s, c=%d, median of %d interleaved pairs | ≥ %.0f%% | %.0f%% (pairs: %s cycles/s) | %s |\n",
		v.row, rep.Options.pairsC, len(shares), v.target*100, med*100, strings.Join(each, ", "), verdict)
}
