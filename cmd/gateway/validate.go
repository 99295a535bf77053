package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/api"
	"github.com/taskgate/taskgate/config"
	"github.com/taskgate/taskgate/dynconfig"
	"github.com/taskgate/taskgate/internal/journal"
	"github.com/taskgate/taskgate/k8srunner"
	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/tasklogs"
	"github.com/taskgate/taskgate/workerrunner"
)

// validateConfig loads the configuration the way serve does, builds every
// component's Config from it, and prints the effective properties with where
// each value came from.
func validateConfig(args, environ []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate-config", stderr)
	var cf configFlags
	cf.register(fs)
	if code, done := parseFlags(fs, args, stderr); done {
		return code
	}
	props, warnings, err := cf.load(environ)
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if err != nil {
		fmt.Fprintf(stderr, "invalid configuration:\n%s\n", err)
		return 1
	}
	wiring, err := buildWiring(props)
	if err != nil {
		fmt.Fprintf(stderr, "invalid configuration:\n%s\n", err)
		return 1
	}
	printEffective(stdout, props, wiring)
	return 0
}

// wiring is what serve builds from the properties before starting anything.
type wiring struct {
	strategyConfig routing.StrategyConfig
	strategy       routing.Strategy
	api            api.Config
	auth           api.AuthConfig
	store          dynconfig.StoreConfig
	dynamic        dynconfig.ManagerConfig
	// runsK8s says the Kubernetes runner is built (runner type k8s or
	// k8sAndWorker); its own configuration is then checked too.
	runsK8s bool
	// runsWorker says the Middle Manager runner is built (httpRemote,
	// remote or k8sAndWorker).
	runsWorker bool
	worker     workerrunner.Config
	taskLogs   tasklogs.Config
	// migrationWindow is the migration view's window.
	migrationWindow time.Duration
	// workerAPI is the gateway-as-a-worker listener; off when listen is "".
	workerAPI workerAPIConfig
	// journalDir holds accepted tasks until they start.
	journalDir string
}

func buildWiring(props *config.Properties) (wiring, error) {
	var w wiring
	sc, err := routing.StrategyConfigForRunnerType(props)
	if err != nil {
		return w, err
	}
	s, err := routing.NewStrategy(sc)
	if err != nil {
		return w, err
	}
	w.strategyConfig, w.strategy = sc, s
	w.api = api.DefaultConfig()
	if w.auth, w.api.TLS, err = api.SecurityFromProperties(props); err != nil {
		return w, err
	}
	if w.store, err = dynconfig.StoreConfigFromProperties(props); err != nil {
		return w, err
	}
	capacity, err := props.Int(propCapacity)
	if err != nil {
		return w, err
	}
	w.dynamic = dynconfig.ManagerConfig{TemplateKeys: podTemplateKeys(props), StaticCapacity: capacity}
	if err := w.dynamic.Validate(); err != nil {
		return w, err
	}
	runnerType, _ := props.Get(routing.PropertyRunnerType)
	w.runsK8s = runnerType == routing.RunnerTypeK8s || runnerType == routing.RunnerTypeK8sAndWorker
	w.runsWorker = runnerType != routing.RunnerTypeK8s
	if w.runsK8s {
		if _, err := k8srunner.ConfigFromProperties(props); err != nil {
			return w, err
		}
		if _, err := adapters.ConfigFromProperties(props); err != nil {
			return w, err
		}
	}
	if w.runsWorker {
		if w.worker, err = workerrunner.ConfigFromProperties(props); err != nil {
			return w, err
		}
	}
	if w.taskLogs, err = tasklogs.ConfigFromProperties(props); err != nil {
		return w, err
	}
	if w.migrationWindow, err = props.Duration(propMigrationWindow); err != nil {
		return w, err
	}
	if w.migrationWindow <= 0 {
		return w, fmt.Errorf("%s: must be longer than zero", propMigrationWindow)
	}
	if w.workerAPI, err = workerAPIFromProperties(props); err != nil {
		return w, err
	}
	w.journalDir = journalDir(props, w.store)
	return w, nil
}

func printEffective(out io.Writer, props *config.Properties, w wiring) {
	fmt.Fprintln(out, "# effective configuration (value  # source)")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, e := range props.Effective() {
		src := string(e.Source)
		if e.Origin != "" {
			src += " " + e.Origin
		}
		fmt.Fprintf(tw, "%s=%s\t# %s\n", e.Key, e.Value, src)
	}
	_ = tw.Flush()
	fmt.Fprintf(out, "\n# routing: strategy=%s", w.strategyConfig.Type)
	if w.strategyConfig.Type == routing.StrategyTaskType {
		fmt.Fprintf(out, " default=%s overrides=%d", w.strategyConfig.TaskTypeDefault, len(w.strategyConfig.TaskTypeOverrides))
	}
	fmt.Fprintf(out, " workerType=%s\n", w.strategyConfig.WorkerType)
}

const (
	propCapacity   = "druid.indexer.runner.capacity"
	propJournalDir = "taskgate.journal.dir"
)

// journalDir is taskgate.journal.dir, else next to the file store's file
// (tests and local runs keep everything in one place), else the default.
func journalDir(props *config.Properties, store dynconfig.StoreConfig) string {
	if dir, _ := props.Get(propJournalDir); dir != "" {
		return dir
	}
	if store.Kind != dynconfig.StoreKindConfigMap && store.File.Path != "" {
		return filepath.Join(filepath.Dir(store.File.Path), "pending")
	}
	return journal.DefaultDir
}

// podTemplateKeys returns the <key> of every druid.indexer.runner.k8s.podTemplate.<key>.
func podTemplateKeys(props *config.Properties) []string {
	var keys []string
	for _, k := range props.Keys(dynconfig.PodTemplatePropertyPrefix) {
		keys = append(keys, strings.TrimPrefix(k, dynconfig.PodTemplatePropertyPrefix))
	}
	return keys
}
