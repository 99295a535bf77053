// Package peonsim plays the part of Druid peons on a cluster whose pods run
// nothing (kwok's fake nodes): when a peon pod starts running it writes the
// task's log, and when the pod ends it writes the task's status.json into
// the file task-log store, as a real peon does before it exits. It exists
// for `make run` and load tests; the runner under test is not told about it.
package peonsim

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/taskgate/taskgate/task"
)

// Druid's label and annotation for peon pods.
const (
	peonLabelSelector = "druid.k8s.peons=true"
	annotationTaskID  = "task.id"
)

// Config says where peons "write" and which pods are peons.
type Config struct {
	// Namespace of the peon pods. Required.
	Namespace string
	// TaskLogDir is the file task-log store's directory
	// (druid.indexer.logs.directory). Required.
	TaskLogDir string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Validate names the missing field.
func (c Config) Validate() error {
	if c.Namespace == "" {
		return fmt.Errorf("peonsim: Namespace is required")
	}
	if c.TaskLogDir == "" {
		return fmt.Errorf("peonsim: TaskLogDir is required")
	}
	return nil
}

// Run watches peon pods until ctx ends.
func Run(ctx context.Context, client kubernetes.Interface, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.TaskLogDir, 0o755); err != nil {
		return fmt.Errorf("peonsim: %w", err)
	}
	s := &sim{cfg: cfg, started: map[string]time.Time{}}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(cfg.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = peonLabelSelector }))
	pods := factory.Core().V1().Pods().Informer()
	if _, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.observe(obj) },
		UpdateFunc: func(_, obj any) { s.observe(obj) },
	}); err != nil {
		return fmt.Errorf("peonsim: %w", err)
	}
	factory.Start(ctx.Done())
	<-ctx.Done()
	factory.Shutdown()
	return nil
}

type sim struct {
	cfg     Config
	mu      sync.Mutex
	started map[string]time.Time
}

func (s *sim) observe(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	id := pod.Annotations[annotationTaskID]
	if id == "" || task.ValidateID(id) != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch pod.Status.Phase {
	case corev1.PodRunning:
		if _, seen := s.started[id]; !seen {
			s.started[id] = time.Now()
			s.write(id+".log", []byte(fmt.Sprintf("%s peonsim: task %s running on pod %s\n", time.Now().UTC().Format(time.RFC3339), id, pod.Name)))
		}
	case corev1.PodSucceeded, corev1.PodFailed:
		path := filepath.Join(s.cfg.TaskLogDir, id+".status.json")
		if _, err := os.Stat(path); err == nil {
			return
		}
		start, seen := s.started[id]
		if !seen {
			start = time.Now()
		}
		st := task.Success(id, time.Since(start).Milliseconds())
		if pod.Status.Phase == corev1.PodFailed {
			// A peon that dies writes no status; the runner reports the pod's reason.
			return
		}
		if reason := pod.Annotations["taskgate.demo/status"]; strings.EqualFold(reason, "FAILED") {
			st = task.Failure(id, "peonsim: task failed as its pod annotation asked")
		}
		b, err := json.Marshal(st)
		if err == nil {
			s.write(id+".status.json", b)
		}
		delete(s.started, id)
	}
}

// write stores a file atomically, so the runner never reads half of it.
func (s *sim) write(name string, data []byte) {
	tmp, err := os.CreateTemp(s.cfg.TaskLogDir, ".peonsim-*")
	if err == nil {
		_, err = tmp.Write(data)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), filepath.Join(s.cfg.TaskLogDir, name))
		}
	}
	if err != nil {
		s.cfg.Logger.Warn("peonsim: write", "file", name, "error", err)
		return
	}
	s.cfg.Logger.Info("peonsim: wrote", "file", name)
}
