package dynconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
)

// ConfigMapStore defaults.
const (
	// DefaultConfigMapName is the ConfigMap the store keeps its state in.
	DefaultConfigMapName = "taskgate-dynamic-config"
	// DefaultConfigMapMaxHistory caps the audit entries a ConfigMapStore
	// keeps. Lower than the file store's: the whole history is rewritten
	// and sent to every replica's watch on each change.
	DefaultConfigMapMaxHistory = 200
	// DefaultConfigMapMaxHistoryBytes caps the serialised history, so the
	// config and history stay well under the 1 MiB ConfigMap limit.
	DefaultConfigMapMaxHistoryBytes = 256 << 10
	// MaxConfigMapHistoryBytes is the largest MaxHistoryBytes accepted; it
	// leaves room for the config itself under ConfigMapDataLimit.
	MaxConfigMapHistoryBytes = 768 << 10
	// ConfigMapDataLimit is the apiserver's limit on a ConfigMap's data
	// (core validation: data and binaryData together at most 1 MiB).
	ConfigMapDataLimit = 1 << 20
	// DefaultConfigMapConflictRetries is how many times an Update re-reads
	// and retries after losing an optimistic-concurrency race.
	DefaultConfigMapConflictRetries = 10
)

// Keys of the store's ConfigMap. The config and the history are separate
// keys so `kubectl get configmap -o yaml` shows the config readably.
const (
	ConfigMapKeyFormat  = "format"
	ConfigMapKeyConfig  = "config.json"
	ConfigMapKeyHistory = "history.json"
)

// configMapFormatVersion is written under ConfigMapKeyFormat so a later
// layout can tell.
const configMapFormatVersion = "1"

// ConfigMapStoreConfig configures ConfigMapStore.
type ConfigMapStoreConfig struct {
	// Namespace of the ConfigMap, normally the gateway's own. Required.
	Namespace string
	// Name of the ConfigMap; "" means DefaultConfigMapName.
	Name string
	// MaxHistory caps the audit entries kept, oldest dropping first; 0
	// means DefaultConfigMapMaxHistory.
	MaxHistory int
	// MaxHistoryBytes caps the serialised history (JSON bytes), oldest
	// entries dropping first; the entry of the change being made is always
	// kept. 0 means DefaultConfigMapMaxHistoryBytes; at most
	// MaxConfigMapHistoryBytes.
	MaxHistoryBytes int
	// ConflictRetries bounds the re-read-and-retry rounds of an Update that
	// loses a race with another writer; 0 means
	// DefaultConfigMapConflictRetries.
	ConflictRetries int
	// Now is the clock for audit times; nil means time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Validate checks c.
func (c ConfigMapStoreConfig) Validate() error {
	if c.Namespace == "" {
		return errors.New("configmap store: namespace is required")
	}
	if errs := validation.IsDNS1123Label(c.Namespace); len(errs) > 0 {
		return fmt.Errorf("configmap store: namespace %q: %s", c.Namespace, strings.Join(errs, "; "))
	}
	if c.Name != "" {
		if errs := validation.IsDNS1123Subdomain(c.Name); len(errs) > 0 {
			return fmt.Errorf("configmap store: name %q: %s", c.Name, strings.Join(errs, "; "))
		}
	}
	if c.MaxHistory < 0 {
		return fmt.Errorf("configmap store: maxHistory must be >= 0 (0 = default %d), got %d", DefaultConfigMapMaxHistory, c.MaxHistory)
	}
	if c.MaxHistoryBytes < 0 || c.MaxHistoryBytes > MaxConfigMapHistoryBytes {
		return fmt.Errorf("configmap store: maxHistoryBytes must be between 0 (default %d) and %d, got %d",
			DefaultConfigMapMaxHistoryBytes, MaxConfigMapHistoryBytes, c.MaxHistoryBytes)
	}
	if c.ConflictRetries < 0 {
		return fmt.Errorf("configmap store: conflictRetries must be >= 0 (0 = default %d), got %d", DefaultConfigMapConflictRetries, c.ConflictRetries)
	}
	return nil
}

func (c ConfigMapStoreConfig) withDefaults() ConfigMapStoreConfig {
	if c.Name == "" {
		c.Name = DefaultConfigMapName
	}
	if c.MaxHistory == 0 {
		c.MaxHistory = DefaultConfigMapMaxHistory
	}
	if c.MaxHistoryBytes == 0 {
		c.MaxHistoryBytes = DefaultConfigMapMaxHistoryBytes
	}
	if c.ConflictRetries == 0 {
		c.ConflictRetries = DefaultConfigMapConflictRetries
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// ConfigMapStore is the Store for several gateway replicas: one ConfigMap
// holds the config and its capped audit history. Updates are
// read-modify-write with optimistic concurrency on the resourceVersion (the
// UpdateFunc runs again on the fresh value after a conflict), so concurrent
// writers on any replica lose nothing. A single-object informer watches the
// ConfigMap, so every replica's subscribers hear of a change within the
// watch latency (tens of milliseconds), and Get and History answer from
// memory once it has synced; a replica's own write is visible to its Get as
// soon as Update returns. After an apiserver outage the watch resumes on
// client-go's reflector backoff (0.8 s doubling, capped at 30 s).
//
// A ConfigMap whose content cannot be read is reported as ErrCorrupt, by
// Get, History and Update alike, and never overwritten: an operator fixes
// or deletes it. A ConfigMap with no data at all (e.g. pre-created by a
// chart) counts as empty. Edits made with kubectl take effect like any
// other change but leave no audit entry.
type ConfigMapStore[T any] struct {
	kind     DocKind[T]
	cfg      ConfigMapStoreConfig
	client   kubernetes.Interface
	log      *slog.Logger
	informer cache.SharedIndexInformer
	stop     context.CancelFunc
	stopped  chan struct{}

	// writeMu serialises this replica's Updates, so only other replicas
	// cause conflicts.
	writeMu sync.Mutex

	mu    sync.Mutex
	state cmState[T]
	// notifiedRV is the resourceVersion subscribers were last told of.
	// Only the watch's goroutine notifies, so subscribers hear of changes
	// one at a time and in order; notified is closed (and replaced) after
	// each round, for Updates waiting to see their write announced.
	notifiedRV string
	notified   chan struct{}
	subs       map[int]func(*T)
	nextSub    int
	closed     bool
}

var _ ClosableStore = (*ConfigMapStore[ExecutionConfig])(nil)

// ownWriteNotifyWait bounds how long an Update waits for the watch to
// announce its write to subscribers (normally milliseconds); it only runs
// out while the watch is down.
const ownWriteNotifyWait = 2 * time.Second

// cmState is the decoded ConfigMap as last seen, by the informer or by
// this replica's own write, whichever is newer.
type cmState[T any] struct {
	// rv is the resourceVersion it was read at; "" before the first read.
	rv      string
	config  *T
	history []AuditEntry // oldest first
	// corrupt is set, wrapping ErrCorrupt, when the content cannot be read.
	corrupt error
}

// OpenConfigMapStore reads the ConfigMap once (so a missing permission or
// a corrupt ConfigMap fails here, as ErrCorrupt for the latter) and starts
// watching it. A missing ConfigMap is an empty store; it is created by the
// first Update. ctx bounds the first read; the watch runs until Close.
func OpenConfigMapStore(ctx context.Context, client kubernetes.Interface, cfg ConfigMapStoreConfig) (*ConfigMapStore[ExecutionConfig], error) {
	return OpenDocConfigMapStore(ctx, client, cfg, ExecutionConfigDoc)
}

// OpenDocConfigMapStore is OpenConfigMapStore for kind's document.
func OpenDocConfigMapStore[T any](ctx context.Context, client kubernetes.Interface, cfg ConfigMapStoreConfig, kind DocKind[T]) (*ConfigMapStore[T], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if client == nil {
		return nil, errors.New("configmap store: kubernetes client is required")
	}
	cfg = cfg.withDefaults()
	s := &ConfigMapStore[T]{kind: kind, cfg: cfg, client: client, log: cfg.Logger, subs: map[int]func(*T){},
		stopped: make(chan struct{}), notified: make(chan struct{})}
	st, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	if st.corrupt != nil {
		return nil, st.corrupt
	}
	s.state, s.notifiedRV = st, st.rv

	s.informer = coreinformers.NewFilteredConfigMapInformer(client, cfg.Namespace, 0, cache.Indexers{}, func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", cfg.Name).String()
	})
	if _, err := s.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.observe(obj, false) },
		UpdateFunc: func(_, obj any) { s.observe(obj, false) },
		DeleteFunc: func(obj any) { s.observe(obj, true) },
	}); err != nil {
		return nil, fmt.Errorf("configmap store %s: watch: %w", s.ref(), err)
	}
	if err := s.informer.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		s.log.Warn("execution config ConfigMap watch interrupted; it resumes by itself", "configmap", s.ref(), "error", err)
	}); err != nil {
		return nil, fmt.Errorf("configmap store %s: watch: %w", s.ref(), err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go func() {
		defer close(s.stopped)
		s.informer.RunWithContext(runCtx)
	}()
	return s, nil
}

// ref names the ConfigMap in messages.
func (s *ConfigMapStore[T]) ref() string { return s.cfg.Namespace + "/" + s.cfg.Name }

// Close stops the watch; subscribers hear of no further change. Get,
// History and Update keep working with direct reads.
func (s *ConfigMapStore[T]) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.subs = map[int]func(*T){}
	s.mu.Unlock()
	s.stop()
	<-s.stopped
	return nil
}

// HasSynced reports whether the watch has delivered the ConfigMap's state
// once; until then Get and History read from the apiserver.
func (s *ConfigMapStore[T]) HasSynced() bool { return s.informer.HasSynced() }

// read gets the ConfigMap from the apiserver and decodes it.
func (s *ConfigMapStore[T]) read(ctx context.Context) (cmState[T], error) {
	cm, err := s.client.CoreV1().ConfigMaps(s.cfg.Namespace).Get(ctx, s.cfg.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return cmState[T]{}, nil
	}
	if err != nil {
		return cmState[T]{}, fmt.Errorf("read execution config ConfigMap %s: %w", s.ref(), err)
	}
	return s.decode(cm), nil
}

// decode reads cm's content; a problem is returned in the state's corrupt
// field, with the ConfigMap named.
func (s *ConfigMapStore[T]) decode(cm *corev1.ConfigMap) cmState[T] {
	st := cmState[T]{rv: cm.ResourceVersion}
	cfg, hist, err := decodeConfigMapData(cm.Data, s.kind)
	if err != nil {
		st.corrupt = fmt.Errorf("%w: ConfigMap %s (resourceVersion %s): %v (it was left as is; fix it or delete it to start with no dynamic config)",
			ErrCorrupt, s.ref(), cm.ResourceVersion, err)
		return st
	}
	st.config, st.history = cfg, hist
	return st
}

// decodeConfigMapData reads the store's keys. No data at all is an empty
// store.
func decodeConfigMapData[T any](data map[string]string, kind DocKind[T]) (*T, []AuditEntry, error) {
	if len(data) == 0 {
		return nil, nil, nil
	}
	format, ok := data[ConfigMapKeyFormat]
	if !ok {
		return nil, nil, fmt.Errorf("key %q is missing (keys present: %s)", ConfigMapKeyFormat, strings.Join(sortedKeys(keySet(data)), ", "))
	}
	if format != configMapFormatVersion {
		return nil, nil, fmt.Errorf("key %q: unsupported format %q (want %q)", ConfigMapKeyFormat, format, configMapFormatVersion)
	}
	var cfg *T
	raw := strings.TrimSpace(data[ConfigMapKeyConfig])
	if raw != "" && raw != "null" {
		c, err := kind.Parse([]byte(raw))
		if err != nil {
			return nil, nil, fmt.Errorf("key %q: %v", ConfigMapKeyConfig, err)
		}
		cfg = c
	}
	var hist []AuditEntry
	if h := strings.TrimSpace(data[ConfigMapKeyHistory]); h != "" {
		if err := json.Unmarshal([]byte(h), &hist); err != nil {
			return nil, nil, fmt.Errorf("key %q: invalid audit history: %v", ConfigMapKeyHistory, err)
		}
	}
	return cfg, hist, nil
}

func keySet(m map[string]string) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// encodeConfigMapData is decodeConfigMapData's inverse. The history is
// capped to maxCount entries and maxBytes of JSON, oldest dropping first;
// the newest entry is always kept.
func encodeConfigMapData(cfg any, history []AuditEntry, maxCount, maxBytes int) (map[string]string, int, error) {
	c, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, 0, fmt.Errorf("encode execution config: %w", err)
	}
	h, kept, err := encodeHistory(history, maxCount, maxBytes)
	if err != nil {
		return nil, 0, err
	}
	data := map[string]string{
		ConfigMapKeyFormat:  configMapFormatVersion,
		ConfigMapKeyConfig:  string(c),
		ConfigMapKeyHistory: string(h),
	}
	size := 0
	for k, v := range data {
		size += len(k) + len(v)
	}
	if size > ConfigMapDataLimit {
		return nil, 0, fmt.Errorf("execution config of %d bytes with its latest audit entry makes %d bytes, over the ConfigMap limit of %d", len(c), size, ConfigMapDataLimit)
	}
	return data, kept, nil
}

// encodeHistory writes the newest entries that fit the caps as a JSON
// array, one entry a line, oldest first; it returns how many it kept.
func encodeHistory(history []AuditEntry, maxCount, maxBytes int) ([]byte, int, error) {
	if len(history) > maxCount {
		history = history[len(history)-maxCount:]
	}
	lines := make([][]byte, len(history))
	for i, e := range history {
		b, err := json.Marshal(e)
		if err != nil {
			return nil, 0, fmt.Errorf("encode audit entry: %w", err)
		}
		lines[i] = b
	}
	// "[\n" + entries joined by ",\n" + "\n]"
	size := 4
	first := len(lines)
	for i := len(lines) - 1; i >= 0; i-- {
		add := len(lines[i])
		if i < len(lines)-1 {
			add += 2
		}
		if i < len(lines)-1 && size+add > maxBytes {
			break
		}
		size += add
		first = i
	}
	lines = lines[first:]
	var buf bytes.Buffer
	buf.WriteString("[\n")
	buf.Write(bytes.Join(lines, []byte(",\n")))
	buf.WriteString("\n]")
	return buf.Bytes(), len(lines), nil
}

// observe takes a watch notification: it updates the state and tells
// subscribers of a readable change they have not heard of. It runs on the
// informer's goroutine only.
func (s *ConfigMapStore[T]) observe(obj any, deleted bool) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return
	}
	var st cmState[T]
	if deleted {
		st = cmState[T]{rv: cm.ResourceVersion}
	} else {
		st = s.decode(cm)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.setStateLocked(st, deleted)
	// Update may have set the state already; subscribers still need telling.
	if !newerRV(st.rv, s.notifiedRV, deleted) {
		s.mu.Unlock()
		return
	}
	var subs []func(*T)
	if st.corrupt == nil {
		for _, f := range s.subs {
			subs = append(subs, f)
		}
	}
	s.mu.Unlock()
	for _, f := range subs {
		f(st.config)
	}
	s.mu.Lock()
	s.notifiedRV = st.rv
	close(s.notified)
	s.notified = make(chan struct{})
	s.mu.Unlock()
}

// setStateLocked makes st the current state if it is newer than the one
// held. A deletion may carry the resourceVersion of the object it removes,
// so it applies at an equal one. s.mu is held.
func (s *ConfigMapStore[T]) setStateLocked(st cmState[T], orEqual bool) {
	if !newerRV(st.rv, s.state.rv, orEqual) {
		return
	}
	if st.corrupt != nil && s.state.corrupt == nil {
		s.log.Error("execution config ConfigMap is corrupt; keeping the last good config until it is fixed", "error", st.corrupt)
	}
	s.state = st
}

func (s *ConfigMapStore[T]) setState(st cmState[T]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.setStateLocked(st, false)
	}
}

// waitNotified waits, up to ownWriteNotifyWait, until the watch has told
// subscribers of resourceVersion rv, so an Update returns after its change
// was announced, as with the file store.
func (s *ConfigMapStore[T]) waitNotified(ctx context.Context, rv string) {
	if !s.informer.HasSynced() {
		return // the initial list will carry it
	}
	timer := time.NewTimer(ownWriteNotifyWait)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if s.closed || !newerRV(rv, s.notifiedRV, false) {
			s.mu.Unlock()
			return
		}
		ch := s.notified
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return
		case <-timer.C:
			s.log.Warn("the watch has not announced this replica's own write yet; subscribers hear of it when the watch resumes", "configmap", s.ref(), "resourceVersion", rv)
			return
		}
	}
}

// newerRV reports whether resourceVersion a is after b. The apiserver's
// resourceVersions are etcd revisions, comparable as integers; anything
// else is taken as newer, since the watch delivers changes in order.
func newerRV(a, b string, orEqual bool) bool {
	if b == "" {
		return true
	}
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	if errA != nil || errB != nil {
		return a != b || orEqual
	}
	return x > y || (orEqual && x == y)
}

// current returns the state to answer reads from: the watched one once
// the watch has synced, a direct read before.
func (s *ConfigMapStore[T]) current(ctx context.Context) (cmState[T], error) {
	if err := ctx.Err(); err != nil {
		return cmState[T]{}, err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed || !s.informer.HasSynced() {
		st, err := s.read(ctx)
		if err != nil {
			return cmState[T]{}, err
		}
		if closed {
			return st, nil
		}
		s.setState(st)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state, nil
}

// Get implements Store.
func (s *ConfigMapStore[T]) Get(ctx context.Context) (*T, error) {
	st, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	if st.corrupt != nil {
		return nil, st.corrupt
	}
	return st.config, nil
}

// History implements Store.
func (s *ConfigMapStore[T]) History(ctx context.Context, q HistoryQuery) ([]AuditEntry, error) {
	st, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	if st.corrupt != nil {
		return nil, st.corrupt
	}
	return SelectHistory(st.history, q, s.cfg.Now()), nil
}

// retriable marks a lost race (conflict on update, or a create that
// another replica beat): the update starts over from a fresh read.
func retriable(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)
}

// Update implements Store: read the ConfigMap from the apiserver, apply fn,
// write with the read resourceVersion (create when missing); on a conflict
// start over, up to ConflictRetries times. A corrupt ConfigMap fails with
// ErrCorrupt and is not written.
func (s *ConfigMapStore[T]) Update(ctx context.Context, info AuditInfo, fn func(current *T) (*T, error)) (*T, AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, AuditEntry{}, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	cms := s.client.CoreV1().ConfigMaps(s.cfg.Namespace)
	var (
		next    *T
		entry   AuditEntry
		written *corev1.ConfigMap
		rounds  int
	)
	backoff := wait.Backoff{Steps: s.cfg.ConflictRetries + 1, Duration: 5 * time.Millisecond, Factor: 2, Jitter: 1, Cap: 500 * time.Millisecond}
	err := retry.OnError(backoff, retriable, func() error {
		rounds++
		if err := ctx.Err(); err != nil {
			return err
		}
		cm, err := cms.Get(ctx, s.cfg.Name, metav1.GetOptions{})
		exists := true
		switch {
		case apierrors.IsNotFound(err):
			exists, cm = false, nil
		case err != nil:
			return fmt.Errorf("read execution config ConfigMap %s: %w", s.ref(), err)
		}
		var st cmState[T]
		if exists {
			st = s.decode(cm)
			if st.corrupt != nil {
				return st.corrupt
			}
		}
		n, err := fn(st.config)
		if err != nil {
			return err
		}
		if n == nil {
			return errors.New("update produced no config")
		}
		e, err := NewAuditEntry(s.kind.Key, n, info, s.cfg.Now())
		if err != nil {
			return err
		}
		history := append(append([]AuditEntry(nil), st.history...), e)
		data, _, err := encodeConfigMapData(n, history, s.cfg.MaxHistory, s.cfg.MaxHistoryBytes)
		if err != nil {
			return fmt.Errorf("execution config ConfigMap %s: %w", s.ref(), err)
		}
		if !exists {
			written, err = cms.Create(ctx, s.newConfigMap(data), metav1.CreateOptions{})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("create execution config ConfigMap %s: %w", s.ref(), err)
			}
		} else {
			cm = cm.DeepCopy()
			cm.Data = data
			cm.BinaryData = nil
			written, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
			if err != nil && !apierrors.IsConflict(err) {
				return fmt.Errorf("update execution config ConfigMap %s: %w", s.ref(), err)
			}
		}
		if err != nil {
			return err // a lost race: retried
		}
		next, entry = n, e
		return nil
	})
	if err != nil {
		if retriable(err) {
			return nil, AuditEntry{}, fmt.Errorf("update execution config ConfigMap %s: still conflicting with other writers after %d attempts: %w", s.ref(), rounds, err)
		}
		return nil, AuditEntry{}, err
	}
	if rounds > 1 {
		s.log.Debug("execution config update retried after conflicts", "configmap", s.ref(), "attempts", rounds)
	}
	// The state takes the write at once, so a Get right after Update reads
	// it whatever the watch's delay; subscribers hear of it from the watch.
	s.setState(s.decode(written))
	s.waitNotified(ctx, written.ResourceVersion)
	return next, entry, nil
}

func (s *ConfigMapStore[T]) newConfigMap(data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      s.cfg.Name,
			Namespace: s.cfg.Namespace,
			Labels: map[string]string{
				"app.kubernetes.io/name":       "taskgate",
				"app.kubernetes.io/component":  "dynamic-config",
				"app.kubernetes.io/managed-by": "taskgate",
			},
			Annotations: map[string]string{
				"taskgate.io/description": "taskgate's Kubernetes execution config (" + ConfigMapKeyConfig + ") and its audit history; change it through the gateway's executionconfig endpoint so changes are audited",
			},
		},
		Data: data,
	}
}

// Subscribe implements Store: fn hears, through the watch, of every change
// to the ConfigMap — this replica's updates (before Update returns, unless
// the watch is down), other replicas' updates, kubectl edits, and a
// deletion (as nil). Calls come from the watch's goroutine, one at a time,
// in the order of the changes. A corrupt change is not passed on; Get
// reports it.
func (s *ConfigMapStore[T]) Subscribe(fn func(*T)) (cancel func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextSub
	s.nextSub++
	if !s.closed {
		s.subs[id] = fn
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.subs, id)
	}
}
