package runs

import (
	"slices"
	"strings"
)

// The run systems provgraph covers, mapped onto its one lifecycle: their state names
// onto ours and back, and their operations onto our routes. docs/runs.md is this table
// in prose; compatibility routes use it.

// System is one seed system's view of runs.
type System struct {
	Name string
	// In maps each of the system's state names onto ours.
	In map[string]State
	// Out names each of our states in the system's terms (the nearest it has).
	Out map[State]string
	// Ops maps the system's operations onto our routes.
	Ops []OpRoute
}

// OpRoute is one seed operation and the route of ours that does it.
type OpRoute struct {
	Seed  string // the system's operation, as its API documents name it
	Route string // ours
}

// Systems are the seed systems, in the order docs/runs.md lists them.
func Systems() []System {
	return []System{
		{
			Name: "Kubeflow Pipelines v1 (RunService)",
			In: map[string]State{"Pending": Pending, "Running": Running, "Terminating": Canceling, "Succeeded": Succeeded,
				"Skipped": Succeeded, "Failed": Failed, "Error": Errored, "Terminated": Canceled},
			Out: map[State]string{Pending: "Pending", Running: "Running", Canceling: "Terminating", Succeeded: "Succeeded",
				Failed: "Failed", Errored: "Error", Canceled: "Failed"}, // as KFP reports a terminated run: the SDK waits until Failed
			Ops: []OpRoute{
				{"create_run", "POST /api/v1/runs"}, {"get_run", "GET /api/v1/runs/{id}"}, {"list_runs", "GET /api/v1/runs"},
				{"archive_run", "POST /api/v1/runs/{id}:archive"}, {"unarchive_run", "POST /api/v1/runs/{id}:unarchive"},
				{"delete_run", "DELETE /api/v1/runs/{id}"}, {"retry_run", "POST /api/v1/runs/{id}:retry"},
				{"terminate_run", "POST /api/v1/runs/{id}:cancel"}, {"report_run_metrics", "POST /api/v1/runs/{id}/metrics"},
				{"read_artifact", "GET /api/v1/runs/{id}/artifacts/{name}"},
			},
		},
		{
			Name: "GA4GH TES",
			In: map[string]State{"UNKNOWN": Pending, "QUEUED": Pending, "INITIALIZING": Running, "RUNNING": Running, "PAUSED": Running,
				"CANCELING": Canceling, "COMPLETE": Succeeded, "EXECUTOR_ERROR": Failed, "SYSTEM_ERROR": Errored,
				"CANCELED": Canceled, "PREEMPTED": Errored},
			Out: map[State]string{Pending: "QUEUED", Running: "RUNNING", Canceling: "CANCELING", Succeeded: "COMPLETE",
				Failed: "EXECUTOR_ERROR", Errored: "SYSTEM_ERROR", Canceled: "CANCELED"},
			Ops: []OpRoute{
				{"CreateTask", "POST /api/v1/runs"}, {"GetTask (view MINIMAL|BASIC|FULL)", "GET /api/v1/runs/{id}?view=minimal|basic|full"},
				{"ListTasks", "GET /api/v1/runs"}, {"CancelTask", "POST /api/v1/runs/{id}:cancel"},
			},
		},
		{
			Name: "Illumina ICA task runs",
			In: map[string]State{"Pending": Pending, "CheckedOut": Pending, "Runnable": Pending, "Running": Running,
				"Finalizing": Running, "Aborting": Canceling, "Completed": Succeeded, "Failed": Failed,
				"FailedRestartable": Failed, "TimedOut": Errored, "Aborted": Canceled},
			Out: map[State]string{Pending: "Pending", Running: "Running", Canceling: "Aborting", Succeeded: "Completed",
				Failed: "Failed", Errored: "Failed", Canceled: "Aborted"},
			Ops: []OpRoute{
				{"CreateTaskRun", "POST /api/v1/runs"}, {"GetTaskRun", "GET /api/v1/runs/{id}"},
				{"ListTaskRuns (sort, names, status, page_size, page_token)", "GET /api/v1/runs"},
				{"AbortTaskRun (only Pending or Running)", "POST /api/v1/runs/{id}:cancel"},
				{"HeartbeatTaskRun", "POST /api/v1/runs/{id}:heartbeat"},
			},
		},
		{
			Name: "flowserv",
			In: map[string]State{"PENDING": Pending, "RUNNING": Running, "SUCCESS": Succeeded, "ERROR": Failed,
				"CANCELED": Canceled},
			Out: map[State]string{Pending: "PENDING", Running: "RUNNING", Canceling: "RUNNING", Succeeded: "SUCCESS",
				Failed: "ERROR", Errored: "ERROR", Canceled: "CANCELED"},
			Ops: []OpRoute{
				{"start_run(group_id, arguments)", "POST /api/v1/runs"}, {"cancel_run(run_id, reason)", "POST /api/v1/runs/{id}:cancel"},
				{"delete_run", "DELETE /api/v1/runs/{id}"}, {"get_run", "GET /api/v1/runs/{id}"},
				{"list_runs(group_id, state)", "GET /api/v1/runs?study_id=…&state=…"},
				{"get_result_file", "GET /api/v1/runs/{id}/artifacts/{name}"},
				{"get_result_archive", "GET /api/v1/runs/{id}/results.tar.gz"},
			},
		},
		{
			Name: "Azure ML execution API",
			In: map[string]State{"NotStarted": Pending, "Queued": Pending, "Preparing": Pending, "Provisioning": Pending,
				"Starting": Pending, "Running": Running, "Finalizing": Running, "CancelRequested": Canceling,
				"Completed": Succeeded, "Failed": Failed, "NotResponding": Errored, "Canceled": Canceled},
			Out: map[State]string{Pending: "Queued", Running: "Running", Canceling: "CancelRequested", Succeeded: "Completed",
				Failed: "Failed", Errored: "Failed", Canceled: "Canceled"},
			Ops: []OpRoute{
				{"runs_start_run (definition + project)", "POST /api/v1/runs"},
				{"runs_start_local_run", "POST /api/v1/runs (executor.kind=local), then :claim by the local agent"},
				{"runs_start_snapshot_run", "POST /api/v1/runs (ref.snapshot_id)"},
				{"runs_cancel_run_with_uri", "POST /api/v1/runs/{id}:cancel"},
				{"run history: get, details, runs:query", "GET /api/v1/runs/{id}, GET /api/v1/runs?tag=azureml.experiment:…"},
				{"run history: Canceled event", "POST /api/v1/runs/{id}:cancel"},
			},
		},
		{
			Name: "OpenLineage (RunEvent eventType)",
			In: map[string]State{"START": Running, "RUNNING": Running, "COMPLETE": Succeeded, "FAIL": Failed,
				"ABORT": Canceled, "OTHER": Running},
			Out: map[State]string{Pending: "OTHER", Running: "RUNNING", Canceling: "RUNNING", Succeeded: "COMPLETE",
				Failed: "FAIL", Errored: "FAIL", Canceled: "ABORT"},
		},
	}
}

// SystemNamed is the row of the system whose name starts with name; a foreign adapter
// reads its states from it, so each system's state names are written in one place.
func SystemNamed(name string) System {
	for _, s := range Systems() {
		if strings.HasPrefix(s.Name, name) {
			return s
		}
	}
	panic("runs: no seed system named " + name)
}

// Selects are our states that a filter on the system's state name selects: those the
// system writes with that name, and the one it reads it as.
func (s System) Selects(name string) []State {
	var out []State
	for _, st := range States() {
		if s.Out[st] == name {
			out = append(out, st)
		}
	}
	if st, ok := s.In[name]; ok && !slices.Contains(out, st) {
		out = append(out, st)
	}
	return out
}
