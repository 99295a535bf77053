package dynconfig

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"k8s.io/client-go/kubernetes"
)

// Runtime properties that choose and configure the Store (taskgate's own;
// Druid keeps this config in its metadata database).
const (
	// PropStore is the store kind: StoreKindFile (default) or
	// StoreKindConfigMap.
	PropStore = "taskgate.dynconfig.store"
	// PropFile is the file store's path (default DefaultStoreFile).
	PropFile = "taskgate.dynconfig.file"
	// PropMaxHistory caps the audit entries kept, for either store (default
	// DefaultMaxHistory for the file, DefaultConfigMapMaxHistory for the
	// ConfigMap).
	PropMaxHistory = "taskgate.dynconfig.maxHistory"
	// PropConfigMapName is the ConfigMap's name (default
	// DefaultConfigMapName).
	PropConfigMapName = "taskgate.dynconfig.configmap.name"
	// PropConfigMapNamespace is the ConfigMap's namespace; default
	// PropRunnerNamespace's value.
	PropConfigMapNamespace = "taskgate.dynconfig.configmap.namespace"
	// PropConfigMapMaxHistoryBytes caps the ConfigMap's serialised audit
	// history (default DefaultConfigMapMaxHistoryBytes).
	PropConfigMapMaxHistoryBytes = "taskgate.dynconfig.configmap.maxHistoryBytes"
	// PropRunnerNamespace is Druid's druid.indexer.runner.namespace, the
	// ConfigMap's namespace when PropConfigMapNamespace is not set.
	PropRunnerNamespace = "druid.indexer.runner.namespace"
)

// Store kinds, PropStore's values.
const (
	StoreKindFile      = "file"
	StoreKindConfigMap = "configmap"
)

// DefaultStoreFile is the file store's path when PropFile is not set,
// relative to the working directory like Druid's var/ defaults.
const DefaultStoreFile = "var/taskgate/dynamic-config.json"

// PropertyGetter is where StoreConfigFromProperties reads runtime
// properties (config.Properties satisfies it).
type PropertyGetter interface {
	Get(key string) (string, bool)
}

// StoreConfig chooses and configures the Store. Only the part of Kind is
// used.
type StoreConfig struct {
	// Kind is StoreKindFile or StoreKindConfigMap; "" means StoreKindFile.
	Kind      string
	File      FileStoreConfig
	ConfigMap ConfigMapStoreConfig
}

// Validate checks c.
func (c StoreConfig) Validate() error {
	switch c.Kind {
	case "", StoreKindFile:
		if err := c.File.Validate(); err != nil {
			return fmt.Errorf("%s=%s: %w", PropStore, StoreKindFile, err)
		}
	case StoreKindConfigMap:
		if err := c.ConfigMap.Validate(); err != nil {
			return fmt.Errorf("%s=%s: %w", PropStore, StoreKindConfigMap, err)
		}
	default:
		return fmt.Errorf("%s: unknown store %q (want %q or %q)", PropStore, c.Kind, StoreKindFile, StoreKindConfigMap)
	}
	return nil
}

// StoreConfigFromProperties reads the PropStore family. The result is
// validated.
func StoreConfigFromProperties(p PropertyGetter) (StoreConfig, error) {
	get := func(key string) string {
		v, _ := p.Get(key)
		return strings.TrimSpace(v)
	}
	nonNegInt := func(key string) (int, error) {
		v := get(key)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("property %s: %q is not a non-negative integer", key, v)
		}
		return n, nil
	}
	var c StoreConfig
	c.Kind = get(PropStore)
	if c.Kind == "" {
		c.Kind = StoreKindFile
	}
	maxHistory, err := nonNegInt(PropMaxHistory)
	if err != nil {
		return StoreConfig{}, err
	}
	switch c.Kind {
	case StoreKindFile:
		c.File = FileStoreConfig{Path: get(PropFile), MaxHistory: maxHistory}
		if c.File.Path == "" {
			c.File.Path = DefaultStoreFile
		}
	case StoreKindConfigMap:
		ns := get(PropConfigMapNamespace)
		if ns == "" {
			ns = get(PropRunnerNamespace)
		}
		if ns == "" {
			return StoreConfig{}, fmt.Errorf("%s=%s: set %s (or %s) to the gateway's namespace", PropStore, StoreKindConfigMap, PropConfigMapNamespace, PropRunnerNamespace)
		}
		maxBytes, err := nonNegInt(PropConfigMapMaxHistoryBytes)
		if err != nil {
			return StoreConfig{}, err
		}
		c.ConfigMap = ConfigMapStoreConfig{Namespace: ns, Name: get(PropConfigMapName), MaxHistory: maxHistory, MaxHistoryBytes: maxBytes}
	}
	if err := c.Validate(); err != nil {
		return StoreConfig{}, err
	}
	return c, nil
}

// ClosableStore is a Store to close when the gateway stops.
type ClosableStore = ClosableDocStore[ExecutionConfig]

// ClosableDocStore is a DocStore to close when the gateway stops.
type ClosableDocStore[T any] interface {
	DocStore[T]
	Close() error
}

// OpenStore opens the execution config's store as cfg chooses. client is
// needed for the ConfigMap store only; ctx bounds its first read.
func OpenStore(ctx context.Context, cfg StoreConfig, client kubernetes.Interface) (ClosableStore, error) {
	return OpenDocStore(ctx, cfg, client, ExecutionConfigDoc)
}

// OpenDocStore opens kind's store as cfg chooses (see StoreConfig.For for
// where documents other than the execution config live).
func OpenDocStore[T any](ctx context.Context, cfg StoreConfig, client kubernetes.Interface, kind DocKind[T]) (ClosableDocStore[T], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Kind == StoreKindConfigMap {
		if client == nil {
			return nil, errors.New("configmap store: a Kubernetes client is required")
		}
		return OpenDocConfigMapStore(ctx, client, cfg.ConfigMap, kind)
	}
	fs, err := OpenDocFileStore(cfg.File, kind)
	if err != nil {
		return nil, err
	}
	return fileStoreCloser[T]{fs}, nil
}

// fileStoreCloser gives FileStore, which holds nothing open, a Close.
type fileStoreCloser[T any] struct{ *FileStore[T] }

func (fileStoreCloser[T]) Close() error { return nil }

// For returns where the document with the given suffix lives next to the
// execution config: the file store uses a sibling file
// "<name>-<suffix>.json" in the same directory, the ConfigMap store a
// ConfigMap "<name>-<suffix>" in the same namespace, with the same history
// caps. Each document keeps its own history.
func (c StoreConfig) For(suffix string) StoreConfig {
	out := c
	switch c.Kind {
	case StoreKindConfigMap:
		name := c.ConfigMap.Name
		if name == "" {
			name = DefaultConfigMapName
		}
		out.ConfigMap.Name = name + "-" + suffix
	default:
		dir, base := filepath.Split(c.File.Path)
		ext := filepath.Ext(base)
		out.File.Path = filepath.Join(dir, strings.TrimSuffix(base, ext)+"-"+suffix+ext)
	}
	return out
}
