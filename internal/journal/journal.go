// Package journal keeps, on disk, the tasks the gateway accepted that its
// runners may hold only in memory (a Kubernetes runner's capacity queue, a
// worker runner's pending queue), so a gateway restart loses none: the
// restarted gateway runs again every journaled task its runners do not
// know. One file per task, written crash-safely, removed once the task has
// started or ended.
package journal

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/taskgate/taskgate/task"
)

// DefaultDir is where the gateway keeps the journal when not told,
// relative to the working directory like Druid's var/ defaults.
const DefaultDir = "var/taskgate/pending"

const suffix = ".task.json"

// Dir is a journal in a directory.
type Dir struct {
	path string
}

// Open returns the journal in path, creating the directory.
func Open(path string) (*Dir, error) {
	if path == "" {
		return nil, errors.New("journal: directory is required")
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &Dir{path: path}, nil
}

// name maps a task id (any characters) to a file name.
func (d *Dir) name(id string) string {
	sum := sha256.Sum256([]byte(id))
	return filepath.Join(d.path, hex.EncodeToString(sum[:16])+suffix)
}

// Put records t: its raw JSON in a temp file, fsynced, renamed into place.
func (d *Dir) Put(t *task.Task) (err error) {
	tmp, err := os.CreateTemp(d.path, ".tmp-*")
	if err != nil {
		return fmt.Errorf("journal task %s: %w", t.ID, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(t.Raw()); err != nil {
		return fmt.Errorf("journal task %s: %w", t.ID, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("journal task %s: %w", t.ID, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("journal task %s: %w", t.ID, err)
	}
	if err = os.Rename(tmp.Name(), d.name(t.ID)); err != nil {
		return fmt.Errorf("journal task %s: %w", t.ID, err)
	}
	return nil
}

// Delete forgets a task; an unknown id is not an error.
func (d *Dir) Delete(id string) error {
	if err := os.Remove(d.name(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("journal: forget task %s: %w", id, err)
	}
	return nil
}

// List returns the journaled tasks, oldest file first. A file that no
// longer parses is reported in the error (and skipped) rather than dropped
// silently: it is a task someone submitted.
func (d *Dir) List() ([]*task.Task, error) {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	type file struct {
		name string
		mod  int64
	}
	var files []file
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), suffix) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		files = append(files, file{e.Name(), info.ModTime().UnixNano()})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mod < files[j].mod })
	var out []*task.Task
	var errs []error
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(d.path, f.name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t, err := task.Parse(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("journal file %s: %w", f.name, err))
			continue
		}
		out = append(out, t)
	}
	return out, errors.Join(errs...)
}
