package adapters

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Severity is how much a lint Finding matters.
type Severity string

// Severities, most serious first. Only SeverityError makes a template unusable.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// Finding is one thing the pod template lint has to say about a template.
type Finding struct {
	Severity Severity `json:"severity"`
	// Template is the key of druid.indexer.runner.k8s.podTemplate.<key>.
	Template string `json:"template"`
	// Field is the template field at fault, as a path such as
	// template.spec.restartPolicy.
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (f Finding) String() string {
	return fmt.Sprintf("%s: %s: %s: %s", f.Severity, f.Template, f.Field, f.Message)
}

// Report is the lint result of every configured template, sorted by
// template key; findings of one template keep their check order.
type Report struct {
	Findings []Finding `json:"findings"`
}

// HasErrors reports whether any finding is an error: a template that would
// break the peon.
func (r Report) HasErrors() bool {
	for _, f := range r.Findings {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Templates returns the template keys the report has findings for, sorted.
func (r Report) Templates() []string {
	seen := map[string]bool{}
	var keys []string
	for _, f := range r.Findings {
		if !seen[f.Template] {
			seen[f.Template] = true
			keys = append(keys, f.Template)
		}
	}
	sort.Strings(keys)
	return keys
}

// podEnvSet are the main container's variables the customTemplateAdapter
// always replaces, whatever the template says.
var podEnvSet = []string{EnvTaskDir, EnvTaskID, EnvLoadBroadcastDatasourceMode, EnvLoadBroadcastSegments, EnvTaskJSON}

// podEnvDefaulted are set by taskgate only where the template has not set them.
var podEnvDefaulted = []string{EnvDruidHost, EnvHostname}

// podLabelsSet are the pod labels every peon gets (Druid's identity labels).
var podLabelsSet = []string{LabelPeon, LabelOverlordNamespace, LabelTaskID, LabelTaskType, LabelTaskGroupID, LabelTaskDataSource, LabelOwner}

// podAnnotationsSet are the pod annotations every peon gets.
var podAnnotationsSet = []string{AnnotationTLSEnabled, AnnotationTaskID, AnnotationTaskType, AnnotationTaskGroupID, AnnotationTaskDataSource, AnnotationTask, AnnotationJobTemplate}

// LintTemplate checks a pod template as the customTemplateAdapter will use
// it. As in Druid's PodTemplateTaskAdapter, the first container of
// template.spec.containers runs the peon, whatever its name. Errors are
// templates that would break the peon; warnings are pods that may never
// finish; infos say which of the template's settings taskgate replaces.
func LintTemplate(key string, tpl *corev1.PodTemplate) []Finding {
	return lintTemplate(key, tpl, nil)
}

func lintTemplate(key string, tpl *corev1.PodTemplate, extraLabels map[string]string) []Finding {
	var out []Finding
	add := func(sev Severity, field, format string, args ...any) {
		out = append(out, Finding{Severity: sev, Template: key, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if tpl == nil {
		add(SeverityError, "template", "pod template is empty")
		return out
	}
	spec := tpl.Template.Spec

	if len(spec.Containers) == 0 {
		add(SeverityError, "template.spec.containers", "no containers: the first container runs the peon (Druid's PodTemplateTaskAdapter edits the first container)")
	} else if main := spec.Containers[0]; main.Name != MainContainerName {
		add(SeverityInfo, "template.spec.containers[0].name",
			"the peon runs in the first container, %q; Druid's convention is to name it %q, and nothing depends on the name", main.Name, MainContainerName)
	}

	switch spec.RestartPolicy {
	case corev1.RestartPolicyNever:
	case "":
		add(SeverityInfo, "template.spec.restartPolicy", "not set: taskgate sets Never, so the peon runs once")
	case corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure:
		add(SeverityError, "template.spec.restartPolicy",
			"is %s: a peon must run once, restarting it re-runs a task the Overlord already tracks; use Never", spec.RestartPolicy)
	default:
		add(SeverityError, "template.spec.restartPolicy", "unknown value %q; use Never", spec.RestartPolicy)
	}

	if len(spec.Containers) > 0 {
		main := spec.Containers[0]
		field := "template.spec.containers[0].env"
		if set := envNamesSet(main.Env, podEnvSet); len(set) > 0 {
			add(SeverityInfo, field, "taskgate overwrites %s on the peon container; the template's values are ignored", strings.Join(set, ", "))
		}
		if set := envNamesSet(main.Env, podEnvDefaulted); len(set) > 0 {
			add(SeverityInfo, field, "%s kept as the template sets them (taskgate only adds them when absent: druid_host=pod IP, HOSTNAME=pod name); the peon must still advertise an address the Overlord can reach",
				strings.Join(set, ", "))
		}
		for i, c := range spec.Containers[1:] {
			if wrappedByKubexit(c) {
				continue
			}
			add(SeverityWarning, fmt.Sprintf("template.spec.containers[%d]", i+1),
				"sidecar %q has no termination strategy: the pod (and the task's Job) stays running after the peon exits; "+
					"make it a native sidecar (an initContainer with restartPolicy: Always) or run it under kubexit", c.Name)
		}
	}

	labels := append([]string(nil), podLabelsSet...)
	labels = append(labels, sortedKeys(extraLabels)...)
	if set := mapKeysSet(tpl.Template.Labels, labels); len(set) > 0 {
		add(SeverityInfo, "template.metadata.labels",
			"taskgate overwrites %s; the template's values are ignored", strings.Join(set, ", "))
	}
	if set := mapKeysSet(tpl.Template.Annotations, podAnnotationsSet); len(set) > 0 {
		add(SeverityInfo, "template.metadata.annotations",
			"taskgate overwrites %s; the template's values are ignored", strings.Join(set, ", "))
	}
	return out
}

// wrappedByKubexit reports whether a container's command runs under kubexit,
// which stops it when the peon's container ends (Druid's
// overlordMultiContainer approach).
func wrappedByKubexit(c corev1.Container) bool {
	for _, s := range append(append([]string(nil), c.Command...), c.Args...) {
		if strings.Contains(s, "kubexit") {
			return true
		}
	}
	return false
}

func envNamesSet(env []corev1.EnvVar, names []string) []string {
	var out []string
	for _, n := range names {
		if hasEnv(env, n) {
			out = append(out, n)
		}
	}
	return out
}

func mapKeysSet(m map[string]string, keys []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range keys {
		if _, ok := m[k]; ok && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// LintTemplates reads every configured pod template file
// (druid.indexer.runner.k8s.podTemplate.<key>) and lints it. A file that
// cannot be read or parsed is an error finding of its template, so one bad
// file does not hide the others. It fails only when no template is
// configured.
func LintTemplates(cfg Config) (Report, error) {
	if len(cfg.PodTemplates) == 0 {
		return Report{}, fmt.Errorf("no pod templates are configured: set %s<key>=<file>, at least %s%s", PropPodTemplatePrefix, PropPodTemplatePrefix, BaseTemplateKey)
	}
	var r Report
	keys := sortedKeys(cfg.PodTemplates)
	for _, key := range keys {
		file := cfg.PodTemplates[key]
		prop := PropPodTemplatePrefix + key
		tpl, unknown, err := readPodTemplateFile(file)
		if err != nil {
			r.Findings = append(r.Findings, Finding{Severity: SeverityError, Template: key, Field: prop, Message: err.Error()})
			continue
		}
		if unknown != nil {
			r.Findings = append(r.Findings, Finding{Severity: SeverityWarning, Template: key, Field: prop,
				Message: fmt.Sprintf("%s has fields Kubernetes does not know; they are ignored: %v", file, unknown)})
		}
		r.Findings = append(r.Findings, lintTemplate(key, tpl, cfg.Labels)...)
	}
	if cfg.AdapterType != TypeCustomTemplate {
		r.Findings = append(r.Findings, Finding{Severity: SeverityInfo, Template: BaseTemplateKey, Field: PropAdapterType,
			Message: fmt.Sprintf("is %s: pod templates are only used by %s", cfg.AdapterType, TypeCustomTemplate)})
	}
	if _, ok := cfg.PodTemplates[BaseTemplateKey]; !ok {
		r.Findings = append(r.Findings, Finding{Severity: SeverityError, Template: BaseTemplateKey, Field: PropPodTemplatePrefix + BaseTemplateKey,
			Message: "not configured: it is the template every task without its own falls back to"})
	}
	sort.SliceStable(r.Findings, func(i, j int) bool { return r.Findings[i].Template < r.Findings[j].Template })
	return r, nil
}

// readPodTemplateFile parses a PodTemplate file as the template store does
// (kind and apiVersion optional), but leaves an empty container list to the
// lint so it is reported with the other findings.
func readPodTemplateFile(file string) (tpl *corev1.PodTemplate, unknown error, err error) {
	if file == "" {
		return nil, nil, errors.New("file path is empty")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("read pod template file: %w", err)
	}
	var t corev1.PodTemplate
	if err := yaml.Unmarshal(data, &t); err != nil {
		return nil, nil, fmt.Errorf("pod template file %s: not a PodTemplate: %w", file, err)
	}
	if (t.Kind != "PodTemplate" && t.Kind != "") || (t.APIVersion != "v1" && t.APIVersion != "") {
		return nil, nil, fmt.Errorf("pod template file %s: kind must be PodTemplate (apiVersion v1), got kind %q apiVersion %q", file, t.Kind, t.APIVersion)
	}
	return &t, yaml.UnmarshalStrict(data, &corev1.PodTemplate{}), nil
}
