package adapters

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// MetricTemplateReloadErrors counts pod template files that could not be
// used when they changed (unreadable, not a PodTemplate, or refused by the
// lint), by template key. Each bad version of a file counts once.
const MetricTemplateReloadErrors = "taskgate.k8s.template.reload.errors"

// TemplateStatus is the state of one pod template file: which version is
// in use and, when the file's current content is not, why.
type TemplateStatus struct {
	// Name is the key of druid.indexer.runner.k8s.podTemplate.<key>.
	Name string `json:"name"`
	File string `json:"file"`
	// LoadedAt is when the template in use was read.
	LoadedAt time.Time `json:"loadedAt"`
	// Error, when set, says why the file's current content is not in use;
	// the template read at LoadedAt (the last good one) still is.
	Error   string     `json:"error,omitempty"`
	ErrorAt *time.Time `json:"errorAt,omitempty"`
	// ReloadErrors counts the bad versions of the file seen since start.
	ReloadErrors int64 `json:"reloadErrors"`
	// Warnings are the lint warnings of the template in use.
	Warnings []Finding `json:"warnings,omitempty"`
}

// TemplateStatusReporter is implemented by the customTemplateAdapter.
type TemplateStatusReporter interface {
	// TemplateStatuses looks at every template file again (see
	// ReloadTemplates) and returns their states, sorted by name.
	TemplateStatuses() []TemplateStatus
}

// TemplateReloader is implemented by the customTemplateAdapter.
type TemplateReloader interface {
	// ReloadTemplates re-reads every pod template file that changed since
	// it was last read. A file that cannot be read or parsed, or whose
	// template has lint errors, is refused: the last good template of its
	// key stays in use, and the error is logged, counted
	// (MetricTemplateReloadErrors) and shown by TemplateStatuses until the
	// file is fixed. It returns the keys whose current file is refused.
	ReloadTemplates() (refused []string)
}

// WatchTemplates calls a's ReloadTemplates every period until ctx ends, so
// an edited template file (a ConfigMap mount is updated by a symlink swap)
// is taken, or its error reported, without waiting for a task. It returns
// at once when a has no template files or period is not positive.
func WatchTemplates(ctx context.Context, a Adapter, period time.Duration) {
	r, ok := a.(TemplateReloader)
	if !ok || period <= 0 {
		return
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.ReloadTemplates()
		}
	}
}

// templateStore holds the pod templates of the customTemplateAdapter. A
// template is read again when its file changes (another file, size or
// modification time, so a ConfigMap's symlink swap is seen), linted, and
// used only if it parses and has no lint errors; otherwise the last good
// template stays in use (apache/druid#17701 re-reads the file for every
// task; a bad edit there fails every task until it is fixed).
type templateStore struct {
	files       map[string]string // key → path
	extraLabels map[string]string // druid.indexer.runner.labels, for the lint
	log         *slog.Logger
	errCounter  metric.Int64Counter
	now         func() time.Time

	mu    sync.Mutex
	state map[string]*templateState
}

// templateState is one key's template in use and the last look at its file.
type templateState struct {
	good     *corev1.PodTemplate
	loadedAt time.Time
	warnings []Finding
	// seen is the file version last read, good or bad; an unchanged file is
	// not read (nor reported) again.
	seen os.FileInfo
	// seenErr is the stat error last reported, so a missing file is
	// reported once, not on every look.
	seenErr string
	err     error
	errAt   time.Time
	nErrors int64
}

func newTemplateStore(files, extraLabels map[string]string, log *slog.Logger, mp metric.MeterProvider) (*templateStore, error) {
	if files[BaseTemplateKey] == "" {
		return nil, fmt.Errorf("%s%s is required for %s", PropPodTemplatePrefix, BaseTemplateKey, TypeCustomTemplate)
	}
	counter, err := mp.Meter("github.com/taskgate/taskgate/adapters").Int64Counter(MetricTemplateReloadErrors,
		metric.WithDescription("Pod template file versions refused on reload (unreadable, not a PodTemplate, or lint errors); the last good template stays in use."))
	if err != nil {
		return nil, fmt.Errorf("pod template reload error counter: %w", err)
	}
	s := &templateStore{
		files: maps.Clone(files), extraLabels: maps.Clone(extraLabels), log: log,
		errCounter: counter, now: time.Now, state: map[string]*templateState{},
	}
	var errs []error
	for _, k := range sortedKeys(files) {
		if err := s.refresh(k); err != nil {
			errs = append(errs, err)
			continue
		}
		if st := s.state[k]; st.err != nil {
			// At start there is no last good template to keep: refuse to
			// start, so a bad template fails the gateway, not its tasks.
			errs = append(errs, st.err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// snapshot returns the template in use of every key.
func (s *templateStore) snapshot() map[string]*corev1.PodTemplate {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]*corev1.PodTemplate, len(s.state))
	for k, st := range s.state {
		if st.good != nil {
			out[k] = st.good
		}
	}
	return out
}

// get returns the template of key to use now, after looking at its file.
func (s *templateStore) get(key string) (*corev1.PodTemplate, error) {
	if _, ok := s.files[key]; !ok {
		return nil, fmt.Errorf("no pod template %q is configured (%s%s)", key, PropPodTemplatePrefix, key)
	}
	if err := s.refresh(key); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state[key]
	if st == nil || st.good == nil {
		if st != nil && st.err != nil {
			return nil, st.err
		}
		return nil, fmt.Errorf("%s%s: no usable pod template", PropPodTemplatePrefix, key)
	}
	return st.good, nil
}

// refreshAll looks at every file and returns the keys whose current file
// is refused.
func (s *templateStore) refreshAll() []string {
	var refused []string
	for _, k := range sortedKeys(s.files) {
		_ = s.refresh(k)
		s.mu.Lock()
		if st := s.state[k]; st != nil && st.err != nil {
			refused = append(refused, k)
		}
		s.mu.Unlock()
	}
	return refused
}

// refresh reads key's file again if it changed. A bad version is recorded
// in the key's state (and logged and counted once); refresh itself only
// fails for a key that is not configured.
func (s *templateStore) refresh(key string) error {
	file, ok := s.files[key]
	if !ok {
		return fmt.Errorf("no pod template %q is configured (%s%s)", key, PropPodTemplatePrefix, key)
	}
	prop := PropPodTemplatePrefix + key
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state[key]
	if st == nil {
		st = &templateState{}
		s.state[key] = st
	}
	info, err := os.Stat(file)
	if err != nil {
		err = fmt.Errorf("%s: pod template file: %w", prop, err)
		if st.seenErr != err.Error() {
			st.seen, st.seenErr = nil, err.Error()
			s.refuse(key, file, st, err)
		}
		return nil
	}
	st.seenErr = ""
	if st.seen != nil && sameFileVersion(st.seen, info) {
		return nil
	}
	st.seen = info
	tmpl, warnings, err := loadTemplateFile(key, file, s.extraLabels)
	if err != nil {
		s.refuse(key, file, st, err)
		return nil
	}
	first := st.good == nil
	recovered := st.err != nil
	st.good, st.loadedAt, st.warnings, st.err, st.errAt = tmpl, s.now(), warnings, nil, time.Time{}
	switch {
	case recovered && !first:
		s.log.Info("pod template file fixed; its new version is in use", "property", prop, "file", file)
	case !first:
		s.log.Info("pod template file changed; its new version is in use", "property", prop, "file", file)
	}
	for _, f := range warnings {
		s.log.Warn("pod template lint warning", "property", prop, "file", file, "field", f.Field, "warning", f.Message)
	}
	return nil
}

// refuse records a bad version of key's file. Callers hold s.mu.
func (s *templateStore) refuse(key, file string, st *templateState, err error) {
	st.err, st.errAt = err, s.now()
	st.nErrors++
	s.errCounter.Add(context.Background(), 1, metric.WithAttributes(attribute.String("template", key)))
	if st.good == nil {
		s.log.Error("pod template file is unusable", "property", PropPodTemplatePrefix+key, "file", file, "error", err)
		return
	}
	s.log.Error("pod template file changed but is refused; the last good version stays in use until it is fixed",
		"property", PropPodTemplatePrefix+key, "file", file, "error", err, "lastGoodLoadedAt", st.loadedAt)
}

// statuses returns the state of every key, sorted by name.
func (s *templateStore) statuses() []TemplateStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TemplateStatus, 0, len(s.files))
	for _, k := range sortedKeys(s.files) {
		ts := TemplateStatus{Name: k, File: s.files[k]}
		if st := s.state[k]; st != nil {
			ts.LoadedAt, ts.ReloadErrors = st.loadedAt, st.nErrors
			ts.Warnings = append([]Finding(nil), st.warnings...)
			if st.err != nil {
				at := st.errAt
				ts.Error, ts.ErrorAt = st.err.Error(), &at
			}
		}
		out = append(out, ts)
	}
	return out
}

// refusal returns why key's current file is refused, or nil.
func (s *templateStore) refusal(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.state[key]; st != nil {
		return st.err
	}
	return nil
}

// lintWarnings returns the lint warnings of key's template in use.
func (s *templateStore) lintWarnings(key string) []Finding {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.state[key]; st != nil {
		return append([]Finding(nil), st.warnings...)
	}
	return nil
}

// sameFileVersion reports whether two looks at a path saw the same file
// content: the same file (a ConfigMap update swaps the ..data symlink to a
// new file), size and modification time.
func sameFileVersion(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// loadTemplateFile reads, parses and lints one template file. Lint errors
// refuse the template; its warnings are returned.
func loadTemplateFile(key, file string, extraLabels map[string]string) (*corev1.PodTemplate, []Finding, error) {
	prop := PropPodTemplatePrefix + key
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: read pod template file: %w", prop, err)
	}
	tmpl, err := parsePodTemplate(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: pod template file %s: %w", prop, file, err)
	}
	var warnings, errs []Finding
	if err := yaml.UnmarshalStrict(data, &corev1.PodTemplate{}); err != nil {
		// Druid's parser ignores unknown fields; so does taskgate, but says so.
		warnings = append(warnings, Finding{Severity: SeverityWarning, Template: key, Field: prop,
			Message: fmt.Sprintf("%s has fields Kubernetes does not know; they are ignored: %v", file, err)})
	}
	for _, f := range lintTemplate(key, tmpl, extraLabels) {
		switch f.Severity {
		case SeverityError:
			errs = append(errs, f)
		case SeverityWarning:
			warnings = append(warnings, f)
		}
	}
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, f := range errs {
			msgs[i] = f.Field + ": " + f.Message
		}
		return nil, nil, fmt.Errorf("%s: pod template file %s has lint errors: %s", prop, file, strings.Join(msgs, "; "))
	}
	return tmpl, warnings, nil
}
