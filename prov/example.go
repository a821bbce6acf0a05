package prov

import "time"

// ExampleBase is the base IRI the golden files are written with.
const ExampleBase = "https://provgraph.example.org/id/"

// Ids of the example document's records, for tests that look things up.
const (
	ExOrg       = "local/01JD3Z6W4M2X3Q5V7B9N1C8K0A"
	ExModeller  = "local/01JD3Z6W4M2X3Q5V7B9N1C8K0B"
	ExRequester = "local/01JD3Z6W4M2X3Q5V7B9N1C8K0C"
	ExExecutor  = "local/01JD3Z6W4M2X3Q5V7B9N1C8K0D"
	ExModelV1   = "local/01JD3Z6W4M2X3Q5V7B9N1C8K0E"
	ExModelV2   = "local/01JD3Z6W4M2X3Q5V7B9N1C8K0F"
	ExTplIn     = "local/01JD3Z6W4M2X3Q5V7B9N1C8K0G"
	ExTplOut    = "local/01JD3Z6W4M2X3Q5V7B9N1C8K0H"
	ExWorkflow  = "local/01JD3Z6W4M2X3Q5V7B9N1C8K0J"
	ExStudy     = "local/01JD3Z6W4M2X3Q5V7B9N1C8K0K"
	ExD1        = "local/01JD3Z6W4M2X3Q5V7B9N1C8K0M"
	ExD2        = "local/01JD3Z6W4M2X3Q5V7B9N1C8K0N"
	ExD3        = "10378.1/streamflow 2024#final" // a space and a '#' to escape
	ExArtifact  = "local/01JD3Z6W4M2X3Q5V7B9N1C8K0R/outputs/flow<daily>ü.csv"
	ExRun1      = "local/01JD3Z6W4M2X3Q5V7B9N1C8K0T"
	ExRun2      = "local/01JD3Z6W4M2X3Q5V7B9N1C8K0V"
	ExDeletion  = "local/01JD3Z6W4M2X3Q5V7B9N1C8K0W"
)

// ExampleDocument returns a realistic document for tests and documentation: an
// organisation and two people (the modeller acts on behalf of the organisation),
// a software agent, a model in two versions (a revision; the old one invalidated
// by a deletion), two dataset templates, a workflow template (a prov:Plan), a
// study, three datasets and an artifact, and two chained model runs (run1 used d1
// and generated d2; run2 used d2 and generated d3), each associated with the
// modeller under the workflow template, using the model and informed by the
// study. Times carry nanoseconds and a non-UTC zone; labels carry quotes,
// newlines, control characters and non-ASCII text; two ids need escaping.
//
// It has 17 nodes (9 entities, 4 activities, 4 agents) and 27 relations, and is
// a fresh copy on every call.
func ExampleDocument() *Document {
	zone := time.FixedZone("AEDT", 11*60*60)
	at := func(s string) *time.Time {
		t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, zone)
		if err != nil {
			panic(err)
		}
		return &t
	}
	d1Gen := at("2024-11-20T08:00:00")
	modelGen := at("2024-11-20T08:30:00.5")
	deleted := at("2024-11-20T08:45:00")
	run1Start, run1Used, run1Gen, run1End := at("2024-11-20T09:15:02.123456789"), at("2024-11-20T09:15:02.2"), at("2024-11-20T10:40:11.000000001"), at("2024-11-20T10:40:11.5")
	run2Start, run2Gen, run2End := at("2024-11-20T12:02:03.456"), at("2024-11-20T13:00:00.999999999"), at("2024-11-20T13:00:01")

	return &Document{
		Nodes: []Node{
			{ID: ExOrg, Class: Agent, Kind: "Organisation", Types: []string{"prov:Organization"}, Label: `CSIRO "Land & Water"`},
			{ID: ExModeller, Class: Agent, Kind: "Person", Types: []string{"prov:Person"}, Label: "Zoë Ngata-Smith",
				Attrs: map[string]string{"email": "zoe@example.org", "orcid": "https://orcid.org/0000-0002-1825-0097"}},
			{ID: ExRequester, Class: Agent, Kind: "Person", Types: []string{"prov:Person"}, Label: "Ana \"the analyst\" López\nHydrology, 水文"},
			{ID: ExExecutor, Class: Agent, Kind: "SoftwareAgent", Types: []string{"prov:SoftwareAgent"}, Label: "TES executor\t(funnel)"},
			{ID: ExModelV1, Class: Entity, Kind: "Model", Label: "GR4J rainfall–runoff", Version: 1, InvalidatedAt: deleted,
				Attrs: map[string]string{"location": "https://git.example.org/hydro/gr4j.git#v1"}},
			{ID: ExModelV2, Class: Entity, Kind: "Model", Label: "GR4J rainfall–runoff", Version: 2, GeneratedAt: modelGen,
				Attrs: map[string]string{"location": "https://git.example.org/hydro/gr4j.git#v2"}},
			{ID: ExTplIn, Class: Entity, Kind: "DatasetTemplate", Label: "Rainfall input"},
			{ID: ExTplOut, Class: Entity, Kind: "DatasetTemplate", Label: "Streamflow output"},
			{ID: ExWorkflow, Class: Entity, Kind: "WorkflowTemplate", Types: []string{"prov:Plan"}, Label: "Calibrate & simulate {GR4J}"},
			{ID: ExStudy, Class: Activity, Kind: "Study", Label: "Murray–Darling 2024 study", StartedAt: at("2024-11-20T07:00:00"), EndedAt: at("2024-11-21T11:00:00")},
			{ID: ExD1, Class: Entity, Kind: "Dataset", Label: "Rainfall 2024, daily (mm)", Version: 1, GeneratedAt: d1Gen,
				Attrs: map[string]string{"location": "s3://hydro/rain 2024.csv", "dc:format": "text/csv", "checksum": "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}},
			{ID: ExD2, Class: Entity, Kind: "Dataset", Label: "Calibrated parameters", Attrs: map[string]string{"note": "bell\x07 and back\\slash"}},
			{ID: ExD3, Class: Entity, Kind: "Dataset", Types: []string{"prov:Collection"}, Label: `Streamflow "final" <v2>`},
			{ID: ExArtifact, Class: Entity, Kind: "Artifact", Label: `C:\runs\flow.csv`,
				Attrs: map[string]string{"sha256": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", "media_type": "text/csv", "size": "1048576"}},
			{ID: ExRun1, Class: Activity, Kind: "ModelRun", Label: "Calibration run", StartedAt: run1Start, EndedAt: run1End, Attrs: map[string]string{"state": "SUCCEEDED"}},
			{ID: ExRun2, Class: Activity, Kind: "ModelRun", Label: "Simulation run", StartedAt: run2Start, EndedAt: run2End, Attrs: map[string]string{"state": "SUCCEEDED"}},
			{ID: ExDeletion, Class: Activity, Kind: "Deletion", Label: "Withdraw model v1", StartedAt: deleted, EndedAt: deleted},
		},
		Relations: []Relation{
			{Type: ActedOnBehalfOf, From: ExModeller, To: ExOrg},
			{Type: WasRevisionOf, From: ExModelV2, To: ExModelV1},
			{Type: WasInvalidatedBy, From: ExModelV1, To: ExDeletion, Time: deleted},
			{Type: WasAssociatedWith, From: ExDeletion, To: ExRequester},
			{Type: WasAssociatedWith, From: ExStudy, To: ExRequester, Role: "requester"},
			{Type: WasAttributedTo, From: ExD1, To: ExRequester},
			{Type: WasInfluencedBy, From: ExD1, To: ExTplIn},

			{Type: Used, From: ExRun1, To: ExD1, Role: ExTplIn, Time: run1Start},
			{Type: Used, From: ExRun1, To: ExModelV2, Role: "model", Time: run1Used},
			{Type: WasGeneratedBy, From: ExD2, To: ExRun1, Role: ExTplOut, Time: run1Gen},
			{Type: WasAssociatedWith, From: ExRun1, To: ExModeller, Role: "modeller", Plan: ExWorkflow},
			{Type: WasInformedBy, From: ExRun1, To: ExStudy},
			{Type: WasStartedBy, From: ExRun1, To: ExD1, Time: run1Start},
			{Type: WasAttributedTo, From: ExD2, To: ExModeller},
			{Type: WasDerivedFrom, From: ExD2, To: ExD1},

			{Type: Used, From: ExRun2, To: ExD2, Role: "forcing data", Time: run2Start},
			{Type: Used, From: ExRun2, To: ExModelV2, Role: "model", Time: run2Start},
			{Type: WasGeneratedBy, From: ExD3, To: ExRun2, Role: ExTplOut, Time: run2Gen},
			{Type: WasGeneratedBy, From: ExArtifact, To: ExRun2, Role: "flow.csv", Time: run2Gen},
			{Type: WasAssociatedWith, From: ExRun2, To: ExModeller, Role: "modeller", Plan: ExWorkflow},
			{Type: WasAssociatedWith, From: ExRun2, To: ExExecutor, Role: "executor"},
			{Type: WasInformedBy, From: ExRun2, To: ExStudy},
			{Type: WasInformedBy, From: ExRun2, To: ExRun1},
			{Type: WasEndedBy, From: ExRun2, To: ExArtifact, Time: run2End},
			{Type: WasAttributedTo, From: ExD3, To: ExModeller},
			{Type: WasDerivedFrom, From: ExD3, To: ExD2},
			{Type: HadMember, From: ExD3, To: ExArtifact},
		},
	}
}
