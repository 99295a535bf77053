package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/dynconfig"
	"github.com/taskgate/taskgate/task"
)

// renderInput is what `gateway render` reads, by flag.
type renderInput struct {
	taskFile  string // --task
	execFile  string // --execution-config
	podFile   string // --source-pod
	config    configFlags
	environ   []string
	logOutput io.Writer
}

// renderResult is a rendered Job and how it came about.
type renderResult struct {
	adapterType string
	task        *task.Task
	rendered    *adapters.Rendered
	notes       []string // for stderr: ignored inputs, warnings
}

// render is the dry run: it prints the Job YAML a task would get, exactly
// as the Kubernetes runner would build it, and says on stderr (and in a
// header comment) which pod template was chosen and why.
func render(args, environ []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("render", stderr)
	in := renderInput{environ: environ, logOutput: stderr}
	in.config.register(fs)
	fs.StringVar(&in.taskFile, "task", "", "task JSON `file` to render (required)")
	fs.StringVar(&in.execFile, "execution-config", "", "execution config JSON `file`, as POSTed to /druid/indexer/v1/k8s/taskrunner/executionconfig (default: the task-type strategy)")
	fs.StringVar(&in.podFile, "source-pod", "", "Pod YAML or JSON `file` whose spec the overlordSingleContainer/overlordMultiContainer adapters copy (e.g. kubectl get pod <overlord> -o yaml)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: gateway render --task task.json [--config runtime.properties ...] [--execution-config exec.json] [--source-pod pod.yaml]\n\n"+
			"Prints the Kubernetes Job the task would get, without contacting Kubernetes.\n\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stderr); done {
		return code
	}
	if in.taskFile == "" {
		fmt.Fprintln(stderr, "gateway render: --task is required: the task JSON file to render")
		return 2
	}
	res, err := renderTask(in)
	if err != nil {
		fmt.Fprintf(stderr, "gateway render: %v\n", err)
		return 1
	}
	out, err := yaml.Marshal(res.rendered.Job)
	if err != nil {
		fmt.Fprintf(stderr, "gateway render: encode Job: %v\n", err)
		return 1
	}
	summary := res.summary()
	for _, n := range res.notes {
		fmt.Fprintf(stderr, "note: %s\n", n)
	}
	for _, line := range summary {
		fmt.Fprintln(stderr, line)
	}
	for _, line := range summary {
		fmt.Fprintf(stdout, "# %s\n", line)
	}
	_, _ = stdout.Write(out)
	return 0
}

// summary says what was rendered and why, one line each.
func (r *renderResult) summary() []string {
	t := r.task
	lines := []string{
		fmt.Sprintf("task %s (type %s, datasource %q) -> Job %s", t.ID, t.Type, t.DataSource, r.rendered.Job.Name),
		fmt.Sprintf("adapter: %s", r.adapterType),
	}
	if r.rendered.TemplateKey != "" {
		lines = append(lines, fmt.Sprintf("pod template: %s (%s%s): %s",
			r.rendered.TemplateKey, adapters.PropPodTemplatePrefix, r.rendered.TemplateKey, r.rendered.TemplateReason))
	}
	if r.rendered.PayloadInDeepStorage {
		lines = append(lines, fmt.Sprintf("task payload: compressed task JSON is over the %d-character TASK_JSON limit; the runner pushes it to the task log store and the peon fetches it from there",
			adapters.MaxTaskJSONChars))
	}
	return lines
}

func renderTask(in renderInput) (*renderResult, error) {
	res := &renderResult{}
	raw, err := os.ReadFile(in.taskFile)
	if err != nil {
		return nil, fmt.Errorf("--task: %w", err)
	}
	t, err := task.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("--task %s: %w", in.taskFile, err)
	}
	res.task = t

	props, warnings, err := in.config.load(in.environ)
	for _, w := range warnings {
		res.notes = append(res.notes, w.String())
	}
	if err != nil {
		return nil, fmt.Errorf("configuration:\n%w", err)
	}
	cfg, err := adapters.ConfigFromProperties(props)
	if err != nil {
		return nil, fmt.Errorf("configuration:\n%w", err)
	}
	res.adapterType = cfg.AdapterType
	custom := cfg.AdapterType == adapters.TypeCustomTemplate

	deps := adapters.Deps{
		Logger: slog.New(slog.NewTextHandler(in.logOutput, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if in.execFile != "" {
		strategy, notes, err := loadStrategy(in.execFile, cfg, custom)
		if err != nil {
			return nil, err
		}
		res.notes = append(res.notes, notes...)
		if custom {
			deps.Selector = strategy
		}
	}

	switch {
	case !custom && in.podFile == "":
		return nil, fmt.Errorf("--source-pod is required: %s=%s builds the peon from a copy of a source pod's spec (in Druid, the Overlord's own pod); "+
			"save one with `kubectl get pod <overlord-pod> -o yaml > pod.yaml` and pass --source-pod pod.yaml, or set %s=%s",
			adapters.PropAdapterType, cfg.AdapterType, adapters.PropAdapterType, adapters.TypeCustomTemplate)
	case !custom:
		pod, err := loadPod(in.podFile)
		if err != nil {
			return nil, err
		}
		deps.SourcePod = pod
	case in.podFile != "":
		res.notes = append(res.notes, fmt.Sprintf("--source-pod is ignored: %s builds Jobs from pod template files, not from a source pod", adapters.TypeCustomTemplate))
	}

	a, err := adapters.New(cfg, deps)
	if err != nil {
		return nil, err
	}
	r, err := a.Render(t)
	if err != nil {
		return nil, fmt.Errorf("render task %s: %w", t.ID, err)
	}
	res.rendered = r
	return res, nil
}

// loadStrategy reads an execution config file and checks its selectionKeys
// against the configured pod templates, as a POST would.
func loadStrategy(path string, cfg adapters.Config, custom bool) (*dynconfig.Strategy, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--execution-config: %w", err)
	}
	ec, warnings, err := dynconfig.Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("--execution-config %s: %w", path, err)
	}
	var notes []string
	for _, w := range warnings {
		notes = append(notes, fmt.Sprintf("--execution-config %s: %s", path, w))
	}
	if !custom {
		notes = append(notes, fmt.Sprintf("--execution-config is ignored for pod selection: only %s selects pod templates (%s=%s)",
			adapters.TypeCustomTemplate, adapters.PropAdapterType, cfg.AdapterType))
		return ec.Strategy(), notes, nil
	}
	keys := make([]string, 0, len(cfg.PodTemplates))
	for k := range cfg.PodTemplates {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if err := ec.Validate(keys); err != nil {
		return nil, nil, fmt.Errorf("--execution-config %s: %w", path, err)
	}
	return ec.Strategy(), notes, nil
}

// loadPod reads a Pod from YAML or JSON, as `kubectl get pod -o yaml|json`
// prints it.
func loadPod(path string) (*corev1.Pod, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--source-pod: %w", err)
	}
	var pod corev1.Pod
	if err := yaml.Unmarshal(data, &pod); err != nil {
		return nil, fmt.Errorf("--source-pod %s: not a Pod in YAML or JSON: %w", path, err)
	}
	if (pod.Kind != "" && pod.Kind != "Pod") || (pod.APIVersion != "" && pod.APIVersion != "v1") {
		return nil, fmt.Errorf("--source-pod %s: kind must be Pod (apiVersion v1), got kind %q apiVersion %q", path, pod.Kind, pod.APIVersion)
	}
	if len(pod.Spec.Containers) == 0 {
		return nil, fmt.Errorf("--source-pod %s: spec.containers is empty; the source pod's main container becomes the peon", path)
	}
	return &pod, nil
}
