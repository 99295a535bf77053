package dynconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// DefaultMaxHistory is how many audit entries FileStore keeps. Druid's SQL
// audit log keeps every entry; a file rewritten on each change needs a bound,
// and at ~1 KiB an entry this keeps the file around a megabyte.
const DefaultMaxHistory = 1000

// fileFormatVersion is written into the file so a later format can tell.
const fileFormatVersion = 1

// FileStoreConfig configures FileStore.
type FileStoreConfig struct {
	// Path of the JSON file. Required. Its directory is created if missing.
	Path string
	// MaxHistory caps the audit entries kept; 0 means DefaultMaxHistory.
	MaxHistory int
	// Now is the clock for audit times; nil means time.Now.
	Now func() time.Time
}

// Validate checks c.
func (c FileStoreConfig) Validate() error {
	if c.Path == "" {
		return errors.New("file store: path is required")
	}
	if c.MaxHistory < 0 {
		return fmt.Errorf("file store: maxHistory must be >= 0 (0 = default %d), got %d", DefaultMaxHistory, c.MaxHistory)
	}
	return nil
}

// FileStore is the embedded Store: one JSON file holding the config and its
// capped history, rewritten crash-safely on every change (temp file in the
// same directory, fsync, rename over the old file, fsync the directory), so
// a crash leaves either the old or the new file, never a torn one. It is
// for a single gateway process; replicas need a shared store.
type FileStore[T any] struct {
	kind DocKind[T]
	cfg  FileStoreConfig

	mu      sync.Mutex
	state   fileState[T]
	subs    map[int]func(*T)
	nextSub int
}

// fileState is the file's content.
type fileState[T any] struct {
	Version int `json:"version"`
	Config  *T  `json:"config"`
	// History is oldest first.
	History []AuditEntry `json:"history"`
}

// OpenFileStore opens the execution config's file store (see OpenDocFileStore).
func OpenFileStore(cfg FileStoreConfig) (*FileStore[ExecutionConfig], error) {
	return OpenDocFileStore(cfg, ExecutionConfigDoc)
}

// OpenDocFileStore loads the store of kind's document at cfg.Path; a
// missing file is an empty store. A file that cannot be parsed is reported
// as ErrCorrupt (with the path and the reason) and left untouched.
func OpenDocFileStore[T any](cfg FileStoreConfig, kind DocKind[T]) (*FileStore[T], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxHistory == 0 {
		cfg.MaxHistory = DefaultMaxHistory
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &FileStore[T]{kind: kind, cfg: cfg, state: fileState[T]{Version: fileFormatVersion}, subs: map[int]func(*T){}}
	data, err := os.ReadFile(cfg.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o755); err != nil {
			return nil, fmt.Errorf("create %s store directory: %w", kind.Name, err)
		}
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("read %s store %s: %w", kind.Name, cfg.Path, err)
	}
	if err := decodeFileState(data, kind, &s.state); err != nil {
		return nil, fmt.Errorf("%w: %s: %v (the file was left as is; fix or move it away to start with no dynamic config)", ErrCorrupt, cfg.Path, err)
	}
	return s, nil
}

func decodeFileState[T any](data []byte, kind DocKind[T], st *fileState[T]) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("file is empty")
	}
	var raw struct {
		Version int             `json:"version"`
		Config  json.RawMessage `json:"config"`
		History []AuditEntry    `json:"history"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("invalid JSON: %v", err)
	}
	if raw.Version != fileFormatVersion {
		return fmt.Errorf("unsupported format version %d (want %d)", raw.Version, fileFormatVersion)
	}
	st.Version = raw.Version
	st.Config = nil
	if len(raw.Config) > 0 && string(raw.Config) != "null" {
		cfg, err := kind.Parse(raw.Config)
		if err != nil {
			return fmt.Errorf("config: %v", err)
		}
		st.Config = cfg
	}
	st.History = raw.History
	return nil
}

// Get implements Store.
func (s *FileStore[T]) Get(ctx context.Context) (*T, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.Config, nil
}

// Update implements Store. The file is written before the change is visible
// in memory, so a failed write changes nothing.
func (s *FileStore[T]) Update(ctx context.Context, info AuditInfo, fn func(current *T) (*T, error)) (*T, AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, AuditEntry{}, err
	}
	s.mu.Lock()
	next, err := fn(s.state.Config)
	if err != nil {
		s.mu.Unlock()
		return nil, AuditEntry{}, err
	}
	if next == nil {
		s.mu.Unlock()
		return nil, AuditEntry{}, errors.New("update produced no config")
	}
	entry, err := NewAuditEntry(s.kind.Key, next, info, s.cfg.Now())
	if err != nil {
		s.mu.Unlock()
		return nil, AuditEntry{}, err
	}
	history := append(append([]AuditEntry(nil), s.state.History...), entry)
	if over := len(history) - s.cfg.MaxHistory; over > 0 {
		history = history[over:]
	}
	st := fileState[T]{Version: fileFormatVersion, Config: next, History: history}
	if err := s.write(st); err != nil {
		s.mu.Unlock()
		return nil, AuditEntry{}, err
	}
	s.state = st
	subs := make([]func(*T), 0, len(s.subs))
	for _, f := range s.subs {
		subs = append(subs, f)
	}
	s.mu.Unlock()
	for _, f := range subs {
		f(next)
	}
	return next, entry, nil
}

// History implements Store.
func (s *FileStore[T]) History(ctx context.Context, q HistoryQuery) ([]AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return SelectHistory(s.state.History, q, s.cfg.Now()), nil
}

// Subscribe implements Store; a FileStore sees only its own updates.
func (s *FileStore[T]) Subscribe(fn func(*T)) (cancel func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextSub
	s.nextSub++
	s.subs[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.subs, id)
	}
}

// write replaces the file with st crash-safely.
func (s *FileStore[T]) write(st fileState[T]) (err error) {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s store: %w", s.kind.Name, err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(s.cfg.Path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(s.cfg.Path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s store: %w", s.kind.Name, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s store %s: %w", s.kind.Name, tmp.Name(), err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s store %s: %w", s.kind.Name, tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("close %s store %s: %w", s.kind.Name, tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), s.cfg.Path); err != nil {
		return fmt.Errorf("replace %s store %s: %w", s.kind.Name, s.cfg.Path, err)
	}
	// The rename is durable only once the directory entry is.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s store directory %s: %w", s.kind.Name, dir, err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("sync %s store directory %s: %w", s.kind.Name, dir, err)
	}
	return nil
}
