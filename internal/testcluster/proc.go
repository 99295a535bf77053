package testcluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/taskgate/taskgate/internal/childproc"
)

// markerEnv is set in the environment of every process the rig starts. Its
// value names the owning process (pid and start time), so a sweep can tell a
// leftover of a dead test binary from the live cluster of a sibling test
// package running at the same time.
const markerEnv = "TASKGATE_TESTCLUSTER_OWNER"

// process is one control-plane binary run by the rig. It can be stopped and
// started again with the same arguments (fault tests restart the apiserver).
type process struct {
	name    string
	path    string
	args    []string
	logPath string
	marker  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the current run has exited
	err  error         // exit status of the last run, valid after done
}

func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !isClosed(p.done) {
		return fmt.Errorf("%s is already running (pid %d)", p.name, p.cmd.Process.Pid)
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log of %s: %w", p.name, err)
	}
	fmt.Fprintf(logf, "==== %s starting at %s: %s %s\n", p.name, time.Now().Format(time.RFC3339Nano), p.path, strings.Join(p.args, " "))
	cmd := exec.Command(p.path, p.args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Env = append(os.Environ(), markerEnv+"="+p.marker)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true, // its own group: a stop signals everything it spawned
		Pdeathsig: syscall.SIGKILL,
	}
	if err := childproc.Start(cmd); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.err = cmd, done, nil
	go func() {
		werr := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.err = werr
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// exited returns a channel closed when the current run ends, and the pid.
func (p *process) exited() (<-chan struct{}, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		c := make(chan struct{})
		close(c)
		return c, 0
	}
	return p.done, p.cmd.Process.Pid
}

func (p *process) running() bool {
	done, pid := p.exited()
	return pid != 0 && !isClosed(done)
}

func (p *process) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// stop sends SIGTERM to the process group, waits up to grace, then SIGKILLs
// the group. A grace of zero kills at once.
func (p *process) stop(grace time.Duration) {
	done, pid := p.exited()
	if pid == 0 || isClosed(done) {
		return
	}
	sig := syscall.SIGTERM
	if grace <= 0 {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-pid, sig)
	select {
	case <-done:
	case <-time.After(grace):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
	// The leader is gone; make sure nothing it forked lingers in its group.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// logTail returns the last n lines of the process log, for error messages.
func (p *process) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

var clusterSeq atomic.Int64

// ownerMarker identifies one cluster of this process for markerEnv: pid and
// start time of the owner (in clock ticks since boot, so a recycled pid is
// not taken for the owner), and a sequence number telling apart two clusters
// of one process.
func ownerMarker() string {
	return fmt.Sprintf("%d-%s-%d", os.Getpid(), procStartTime(os.Getpid()), clusterSeq.Add(1))
}

// procStartTime reads field 22 (starttime) of /proc/<pid>/stat; "" if gone.
func procStartTime(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) may contain spaces; fields restart after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return ""
	}
	return fields[19] // field 22 overall; fields here start at field 3
}

// SweepStale kills processes started by a test control plane whose owner is
// no longer alive (for example a test binary killed with SIGKILL, where
// Pdeathsig did not reach a grandchild). Processes owned by a live process,
// such as a sibling test package's cluster or `make cluster-up`, are left
// alone. It returns the pids it killed. Start calls it; it is exported for
// tools and scripts.
func SweepStale() ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("sweep stale processes: %w", err)
	}
	var killed []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		owner := readMarker(pid)
		if owner == "" || ownerAlive(owner) {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err == nil || errors.Is(err, syscall.ESRCH) {
			killed = append(killed, pid)
		}
	}
	return killed, nil
}

// ownedProcesses lists live processes carrying the given marker (see
// ownerMarker), for the check that nothing is left behind.
func ownedProcesses(owner string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if readMarker(pid) == owner {
			pids = append(pids, pid)
		}
	}
	return pids
}

func readMarker(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		return ""
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte(markerEnv+"=")); ok {
			return string(v)
		}
	}
	return ""
}

func ownerAlive(marker string) bool {
	f := strings.Split(marker, "-")
	if len(f) < 2 {
		return false
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		return false
	}
	got := procStartTime(pid)
	return got != "" && got == f[1]
}

func killPID(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

// rssBytes reads VmRSS of a process from /proc; 0 if unknown.
func rssBytes(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v) // "123456 kB"
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
