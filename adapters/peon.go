package adapters

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/taskgate/taskgate/task"
)

// Broadcast datasource loading modes (Druid's BroadcastDatasourceLoadingSpec.Mode).
const (
	BroadcastModeAll          = "ALL"
	BroadcastModeNone         = "NONE"
	BroadcastModeOnlyRequired = "ONLY_REQUIRED"
)

// ContextKeyBroadcastDatasourceLoadingMode is the task context key that picks
// a task's broadcast loading mode.
const ContextKeyBroadcastDatasourceLoadingMode = "broadcastDatasourceLoadingMode"

// supportsQueries lists the task types whose Druid class returns true from
// Task.supportsQueries(): streaming ingestion (queryable while running), the
// legacy realtime tasks and MSQ workers (which embed a query stack).
var supportsQueries = map[string]bool{
	"index_kafka":                 true,
	"index_kinesis":               true,
	"index_realtime":              true,
	"index_realtime_appenderator": true,
	"query_worker":                true,
}

// nodeTypes lists Task.getNodeType() where it is not null: only the legacy
// realtime tasks announce themselves as "realtime" servers.
var nodeTypes = map[string]string{
	"index_realtime":              "realtime",
	"index_realtime_appenderator": "realtime",
}

// SupportsQueries reports what Druid's Task.supportsQueries() returns for the
// task's type: LOAD_BROADCAST_SEGMENTS and --loadBroadcastSegments.
func SupportsQueries(t *task.Task) bool { return supportsQueries[t.Type] }

// BroadcastDatasourceLoadingMode is the task's broadcast datasource loading
// mode: NONE for kill tasks (KillUnusedSegmentsTask), otherwise the context's
// broadcastDatasourceLoadingMode when it names a mode, otherwise ALL.
func BroadcastDatasourceLoadingMode(t *task.Task) (string, error) {
	if t.Type == "kill" {
		return BroadcastModeNone, nil
	}
	raw, ok := t.Context[ContextKeyBroadcastDatasourceLoadingMode]
	if !ok || strings.TrimSpace(string(raw)) == "null" {
		return BroadcastModeAll, nil
	}
	var mode string
	if err := json.Unmarshal(raw, &mode); err != nil {
		return "", fmt.Errorf("task %s: context %q must be one of ALL, NONE, ONLY_REQUIRED, got %s", t.ID, ContextKeyBroadcastDatasourceLoadingMode, raw)
	}
	switch mode {
	case BroadcastModeAll, BroadcastModeNone, BroadcastModeOnlyRequired:
		return mode, nil
	}
	return "", fmt.Errorf("task %s: context %q must be one of ALL, NONE, ONLY_REQUIRED, got %q", t.ID, ContextKeyBroadcastDatasourceLoadingMode, mode)
}

// taskDir is Druid's TaskConfig.getTaskDir(taskId): <baseTaskDir>/<task id>.
func taskDir(c Config, taskID string) string {
	return c.taskBaseDir() + "/" + taskID
}

// peonArgs is the peon command the overlord adapters run with "sh -c":
//
//	/peon.sh <taskDir> 1 [--nodeType T] [--loadBroadcastSegments true] --taskId <id>
//
// Druid's releases differ here: before apache/druid#18206 the adapter passed
// the task directory and attempt id and peon.sh handed its arguments to
// CliPeon; after it, peon.sh adds "${TASK_DIR}" 1 itself and the adapter
// passes only options. This form works with both peon.sh versions (the newer
// CliPeon uses the first two positional arguments, which peon.sh supplies, and
// they equal TASK_DIR and 1 here), so any Druid peon image runs unchanged.
// --loadBroadcastDatasourceMode, which only newer CliPeons know, is left out:
// they default it to ALL, which is what Druid passes for all tasks but kill.
func peonArgs(c Config, t *task.Task) []string {
	args := []string{peonScript, taskDir(c, t.ID), "1"}
	if nt, ok := nodeTypes[t.Type]; ok {
		args = append(args, "--nodeType", nt)
	}
	if SupportsQueries(t) {
		args = append(args, "--loadBroadcastSegments", "true")
	}
	return append(args, "--taskId", t.ID)
}

// shellJoin joins arguments into one "sh -c" command line. Druid joins with
// spaces and no quoting, which breaks (or lets the shell interpret) task ids
// with spaces or shell characters; arguments that need it are single-quoted
// here, so ordinary ids give exactly Druid's command line.
func shellJoin(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	return strings.Join(quoted, " ")
}

func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isASCIIAlnum(c) || strings.IndexByte("-_.,:/=@%+", c) >= 0) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// escapeVarRefs doubles every '$' so that Kubernetes, which expands $(NAME) in
// a container's command, args and env values, passes the text through
// unchanged. Only text taskgate derives from task ids (the peon command line,
// TASK_ID, TASK_DIR) goes through it; the source pod's own commands and the
// configured java options keep their $(NAME) references. Ids without '$' are
// unchanged, so the result equals Druid's.
func escapeVarRefs(s string) string { return strings.ReplaceAll(s, "$", "$$") }
