package testcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Names of the processes of the rig, as used by Processes, the log files and
// the binaries in the cache.
const (
	Etcd              = "etcd"
	APIServer         = "kube-apiserver"
	ControllerManager = "kube-controller-manager"
	Scheduler         = "kube-scheduler"
	Kwok              = "kwok"
)

var components = []string{Etcd, APIServer, ControllerManager, Scheduler, Kwok}

const modulePath = "github.com/taskgate/taskgate"

// BinDir returns the folder holding the control-plane binaries, or an error
// wrapping ErrBinariesMissing when they are not built. See Config.BinDir for
// how the folder is found.
func BinDir(ctx context.Context) (string, error) {
	dir := os.Getenv("TASKGATE_CLUSTER_BINS")
	if dir == "" {
		root, err := ModuleRoot()
		if err != nil {
			return "", fmt.Errorf("find control-plane binaries: %w (or set TASKGATE_CLUSTER_BINS)", err)
		}
		// The script owns the version key (it hashes the pinned inputs); asking
		// it keeps one definition. It only reads files: ~10 ms.
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "hack", "cluster-bins.sh"), "dir")
		cmd.Env = os.Environ()
		if os.Getenv("TASKGATE_CACHE") == "" {
			cmd.Env = append(cmd.Env, "TASKGATE_CACHE="+filepath.Join(root, ".cache"))
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("hack/cluster-bins.sh dir: %w: %s", err, strings.TrimSpace(stderr.String()))
		}
		dir = strings.TrimSpace(string(out))
	}
	if err := checkBins(dir); err != nil {
		return "", err
	}
	return dir, nil
}

func checkBins(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil && os.Getenv("TASKGATE_CLUSTER_BINS") == "" {
		return fmt.Errorf("%w (no finished build in %s)", ErrBinariesMissing, dir)
	}
	for _, c := range components {
		fi, err := os.Stat(filepath.Join(dir, c))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%w (%s missing or not executable in %s)", ErrBinariesMissing, c, dir)
		}
	}
	return nil
}

// ModuleRoot finds the root of the taskgate module by walking up from the
// working directory (go test runs tests in the package folder).
func ModuleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && isModule(b, modulePath) {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", errors.New("no go.mod of module " + modulePath + " above " + wd)
		}
	}
}

func isModule(gomod []byte, path string) bool {
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == path
		}
	}
	return false
}
