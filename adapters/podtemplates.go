package adapters

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
)

// PathPodTemplates is Druid's KubernetesTaskRunnerPodTemplateResource: GET
// lists the configured pod templates. Druid guards it with
// ConfigResourceFilter (CONFIG resource, READ).
const PathPodTemplates = "/druid/indexer/v1/k8s/taskrunner/podTemplates"

// NamedPodTemplate is Druid's PodTemplateWithName as it goes over the wire.
type NamedPodTemplate struct {
	Name        string              `json:"name"`
	PodTemplate *corev1.PodTemplate `json:"podTemplate"`
}

// PodTemplateLister is implemented by the customTemplateAdapter: the only
// adapter with pod templates.
type PodTemplateLister interface {
	PodTemplates() []NamedPodTemplate
}

// PodTemplates returns the last loaded template of every configured key,
// sorted by name. They are copies: callers may not change the adapter's.
func (a *templateAdapter) PodTemplates() []NamedPodTemplate {
	snap := a.templates.snapshot()
	out := make([]NamedPodTemplate, 0, len(snap))
	for _, k := range sortedTemplateKeys(snap) {
		out = append(out, NamedPodTemplate{Name: k, PodTemplate: snap[k].DeepCopy()})
	}
	return out
}

// PodTemplatesHandler serves GET PathPodTemplates for an adapter. Like Druid
// it answers 200 with a JSON array of {"name","podTemplate"} for the
// customTemplateAdapter and 404 with a Druid error body for any other.
type PodTemplatesHandler struct {
	adapter Adapter
}

// NewPodTemplatesHandler returns the handler for a.
func NewPodTemplatesHandler(a Adapter) *PodTemplatesHandler {
	return &PodTemplatesHandler{adapter: a}
}

// ServeHTTP implements http.Handler.
func (h *PodTemplatesHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	lister, ok := h.adapter.(PodTemplateLister)
	if !ok {
		// Druid's DruidException (persona OPERATOR, category NOT_FOUND) as
		// ErrorResponse serialises it.
		writePodTemplatesJSON(w, http.StatusNotFound, map[string]any{
			"error":        "druidException",
			"errorCode":    "general",
			"persona":      "OPERATOR",
			"category":     "NOT_FOUND",
			"errorMessage": fmt.Sprintf("Pod templates are only available when the k8s task adapter type is [%s]", TypeCustomTemplate),
			"context":      map[string]string{},
		})
		return
	}
	writePodTemplatesJSON(w, http.StatusOK, lister.PodTemplates())
}

func writePodTemplatesJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		http.Error(w, "encode pod templates: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// PathPodTemplateStatus is taskgate's own view of the pod template files:
// for each key, when the template in use was read, and why the file's
// current content is refused, if it is (see TemplateReloader). Druid's
// PathPodTemplates answer keeps Druid's shape; this one is for operators.
const PathPodTemplateStatus = "/taskgate/v1/k8s/podTemplates/status"

// PodTemplateStatusHandler serves GET PathPodTemplateStatus: 200 with
// {"templates":[TemplateStatus...]} for the customTemplateAdapter, 404 with
// {"error": ...} for the others.
type PodTemplateStatusHandler struct {
	adapter Adapter
}

// NewPodTemplateStatusHandler returns the handler for a.
func NewPodTemplateStatusHandler(a Adapter) *PodTemplateStatusHandler {
	return &PodTemplateStatusHandler{adapter: a}
}

// ServeHTTP implements http.Handler.
func (h *PodTemplateStatusHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	rep, ok := h.adapter.(TemplateStatusReporter)
	if !ok {
		writePodTemplatesJSON(w, http.StatusNotFound, map[string]string{
			"error": fmt.Sprintf("pod templates are only used when %s is %s", PropAdapterType, TypeCustomTemplate),
		})
		return
	}
	writePodTemplatesJSON(w, http.StatusOK, map[string]any{"templates": rep.TemplateStatuses()})
}
