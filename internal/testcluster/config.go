package testcluster

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Config says how to start a cluster. The zero value is a good default.
type Config struct {
	// Nodes is the number of fake nodes kwok plays (named kwok-node-0, ...).
	// Default 1; at most 50.
	Nodes int

	// Dir holds data, certificates, kubeconfigs and one log file per process
	// (logs/<component>.log). Default: a new temporary folder that Stop removes
	// (unless KeepDir). A Dir set by the caller is never removed.
	Dir string

	// KeepDir keeps the temporary Dir after Stop, e.g. to read the logs.
	// Default false.
	KeepDir bool

	// BinDir is the folder with etcd, kube-apiserver, kube-controller-manager,
	// kube-scheduler and kwok. Default: $TASKGATE_CLUSTER_BINS if set, else
	// the folder `hack/cluster-bins.sh dir` names (which honours
	// $TASKGATE_CACHE, default <module root>/.cache).
	BinDir string

	// StartTimeout bounds Start, and each StartAPIServer / StartEtcd.
	// Default 90s (a cold page cache on a busy 2-core machine is slow).
	StartTimeout time.Duration

	// Verbosity is the klog -v level of the Kubernetes components. Default 0;
	// at most 10.
	Verbosity int

	// Logger receives progress messages. Default slog.Default().
	Logger *slog.Logger

	// ExtraStages is YAML with more kwok Stage documents, appended to the
	// built-in node and pod stages (see Behavior). Default none.
	ExtraStages string

	// APIServerArgs, ControllerManagerArgs, SchedulerArgs and KwokArgs are
	// extra flags ("--name=value") appended after the rig's own, so they win
	// where a flag is given twice. Default none.
	APIServerArgs         []string
	ControllerManagerArgs []string
	SchedulerArgs         []string
	KwokArgs              []string
}

const maxNodes = 50

// Validate reports the first field that is out of range, by name.
func (c Config) Validate() error {
	if c.Nodes < 0 || c.Nodes > maxNodes {
		return fmt.Errorf("testcluster config: Nodes is %d, want 0 (default 1) to %d", c.Nodes, maxNodes)
	}
	if c.StartTimeout < 0 {
		return fmt.Errorf("testcluster config: StartTimeout is %s, want >= 0 (0 means the default)", c.StartTimeout)
	}
	if c.Verbosity < 0 || c.Verbosity > 10 {
		return fmt.Errorf("testcluster config: Verbosity is %d, want 0 to 10", c.Verbosity)
	}
	for field, args := range map[string][]string{
		"APIServerArgs": c.APIServerArgs, "ControllerManagerArgs": c.ControllerManagerArgs,
		"SchedulerArgs": c.SchedulerArgs, "KwokArgs": c.KwokArgs,
	} {
		for i, a := range args {
			if !strings.HasPrefix(a, "--") || len(a) < 3 {
				return fmt.Errorf("testcluster config: %s[%d] is %q, want a flag like --name=value", field, i, a)
			}
		}
	}
	return nil
}

// withDefaults returns a copy with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Nodes == 0 {
		c.Nodes = 1
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 90 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// ErrBinariesMissing is returned (wrapped) by Start when the control-plane
// binaries have not been built; the message says to run `make cluster-bins`.
var ErrBinariesMissing = errors.New("control-plane binaries are not built: run `make cluster-bins` (hack/cluster-bins.sh) first")
