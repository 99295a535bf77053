package routing

import (
	"encoding/json"
	"testing"

	"github.com/taskgate/taskgate/task"
)

// FuzzStrategyConfigFromProperties feeds arbitrary property values, above all
// arbitrary overrides JSON. It must never panic, and whatever it accepts must
// build a strategy whose every decision names a real runner and a rule.
func FuzzStrategyConfigFromProperties(f *testing.F) {
	seeds := []struct{ typ, workerType, def, overrides string }{
		{"taskType", "", "k8s", `{"index_kafka":"worker","compact":"k8s"}`},
		{"taskType", "remote", "worker", `{}`},
		{"taskType", "", "", `null`},
		{"k8s", "", "", ``},
		{"worker", "httpRemote", "", `{"a":"b"}`},
		{"taskType", "", "k8s", `{"index":1,"x":[1,2],"y":{"z":"k8s"}}`},
		{"taskType", "", "k8s", `{"":"k8s","\u00e9":"worker"}`},
		{"taskType", "", "k8s", `{"a":"k8s","a":"worker"}`},
		{"taskType", "", "k8s", `[`},
		{"taskType", "", "k8s", `"k8s"`},
		{"taskType", "", "k8s", "{\"a\":\"k8s\"}\x00"},
	}
	for _, s := range seeds {
		f.Add(s.typ, s.workerType, s.def, s.overrides)
	}
	f.Fuzz(func(t *testing.T, typ, workerType, def, overrides string) {
		cfg, err := StrategyConfigFromProperties(props{
			PropertyStrategyType:      typ,
			PropertyWorkerType:        workerType,
			PropertyTaskTypeDefault:   def,
			PropertyTaskTypeOverrides: overrides,
		})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("error with an empty message")
			}
			if len(namedProperties(err)) == 0 {
				t.Fatalf("error names no property: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted config does not validate: %v", err)
		}
		s, err := NewStrategy(cfg)
		if err != nil {
			t.Fatalf("accepted config builds no strategy: %v", err)
		}
		// Every override must decide as configured, and what the JSON held
		// must be exactly what was kept.
		var raw map[string]json.RawMessage
		_ = json.Unmarshal([]byte(overrides), &raw)
		for taskType, runner := range cfg.TaskTypeOverrides {
			if _, ok := raw[taskType]; !ok {
				t.Fatalf("override for %q not in the input", taskType)
			}
			d := s.Decide(&task.Task{ID: "fuzz-id", Type: taskType})
			if cfg.Type == StrategyTaskType && d.Runner != runner {
				t.Fatalf("task type %q routed to %q, override says %q", taskType, d.Runner, runner)
			}
		}
		d := s.Decide(nil)
		if (d.Runner != RunnerK8s && d.Runner != RunnerWorker) || d.Rule == "" {
			t.Fatalf("bad decision %+v", d)
		}
	})
}
