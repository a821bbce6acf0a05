package runs

import (
	"math"
	"testing"
)

func TestCheckArtifactName(t *testing.T) {
	for _, ok := range []string{"model.pt", "results/metrics.json", "a b/c-d_e.tar.gz", "ünïcode.txt"} {
		if err := CheckArtifactName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	long := make([]byte, 256)
	for i := range long {
		long[i] = 'a'
	}
	for _, bad := range []string{"", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", "x\x00y", "a\\b", "..", ".", "\xff", "tab\there", string(long)} {
		if err := CheckArtifactName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCheckMetric(t *testing.T) {
	step := int64(3)
	neg := int64(-1)
	for _, m := range []Metric{{Name: "accuracy", NodeID: "train", Value: 0.9}, {Name: "loss/val", NodeID: "n1", Value: -2, Step: &step}} {
		if msg := CheckMetric(m); msg != "" {
			t.Errorf("%+v: %s", m, msg)
		}
	}
	for _, m := range []Metric{{Name: "", NodeID: "n", Value: 1}, {Name: "1abc", NodeID: "n", Value: 1}, {Name: "a b", NodeID: "n", Value: 1},
		{Name: "ok", NodeID: "", Value: 1}, {Name: "ok", NodeID: "n", Value: math.NaN()}, {Name: "ok", NodeID: "n", Value: math.Inf(1)},
		{Name: "ok", NodeID: "n", Value: 1, Step: &neg}, {Name: "ok", NodeID: "a\x00b", Value: 1}} {
		if msg := CheckMetric(m); msg == "" {
			t.Errorf("%+v accepted", m)
		}
	}
}

func TestParseView(t *testing.T) {
	for in, want := range map[string]string{"": ViewBasic, "MINIMAL": ViewMinimal, "full": ViewFull} {
		if got, err := ParseView(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	if _, err := ParseView("everything"); err == nil {
		t.Error("bad view accepted")
	}
}
