package main

import (
	"path/filepath"
	"strings"
	"testing"

	"provgraph/auth"
)

// A snapshot is acknowledged when its create answers: a run submitted from it after the
// server restarts (a fresh server on the same database and artifact directory) uses its
// manifest in PROV, as one submitted before the restart would.
func TestAzureMLSnapshotSurvivesRestart(t *testing.T) {
	m := mustMain(t, func(c *Config) { c.ArtifactDir = filepath.Join(t.TempDir(), "artifacts") })
	user := tokenClient(t, m, auth.Writer, "user")
	ws := "/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w"
	exp := strings.ReplaceAll(m.Config.IDPrefix, "/", "-") + "-snapexp"
	snap := strings.ReplaceAll(m.Config.IDPrefix, "/", "-") + "-snap"
	tree := `{"DirTreeNode": {"Name": "", "Children": {"train.py": {"Name": "train.py", "Hash": "0123abcd", "Type": "File"}}, "Type": "Directory"}}`
	if r := user.do("POST", "/content/v2.0"+ws+"/snapshots/"+snap, tree); r.Status != 200 || r.JSON(t)["id"] != snap {
		t.Fatalf("create snapshot: %d %s", r.Status, r.Body)
	}

	m.Close()
	m2 := mustMain(t, func(c *Config) {
		c.IDPrefix, c.TokenFile, c.ArtifactDir = m.Config.IDPrefix, m.Config.TokenFile, m.Config.ArtifactDir
	})
	user.base = m2.URL

	run := exp + "_1700000000_0a1b2c3d"
	def := `{"Configuration": {"Script": "train.py", "Target": "local"}, "SnapshotId": "` + snap + `"}`
	if r := user.do("POST", "/execution/v1.0"+ws+"/experiments/"+exp+"/snapshotrun?runId="+run, def); r.Status != 200 || r.JSON(t)["runId"] != run {
		t.Fatalf("snapshotrun after a restart: %d %s", r.Status, r.Body)
	}
	id := user.do("GET", "/api/v1/runs?tag=azureml.run_id:"+run, nil).JSON(t)["runs"].([]any)[0].(map[string]any)["id"].(string)
	doc := user.do("GET", "/api/v1/prov/"+id+"?format=provjson", nil).JSON(t)
	used, _ := doc["used"].(map[string]any)
	var usedSnapshot bool
	for _, u := range used {
		u := u.(map[string]any)
		ent, _ := doc["entity"].(map[string]any)[u["prov:entity"].(string)].(map[string]any)
		if u["prov:activity"] == "id:"+id && ent != nil && ent["prov:label"] == "azureml/snapshot.json" {
			usedSnapshot = true
		}
	}
	if !usedSnapshot {
		t.Fatalf("the snapshot made before the restart is not used in the run's PROV: %v", doc)
	}
}
