// Command testcluster runs the taskgate test control plane (package
// internal/testcluster) for people: `make cluster-up` / `make cluster-down`.
//
//	testcluster up   [--dir .cluster] [--nodes 1]   start in the background, write <dir>/kubeconfig
//	testcluster down [--dir .cluster]               stop it; no process is left
//	testcluster status [--dir .cluster]             say whether it runs, with each process's memory
//	testcluster run  [--dir .cluster] [--nodes 1]   run in the foreground until SIGINT/SIGTERM
//
// `up` starts `run` as a detached daemon (its own session, output in
// <dir>/testcluster.log) and returns once the cluster is ready.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/taskgate/taskgate/internal/testcluster"
)

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", ".cluster", "folder for the cluster's data, logs, kubeconfig and pid file")
	nodes := fs.Int("nodes", 1, "number of fake (kwok) nodes")
	_ = fs.Parse(os.Args[2:])
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testcluster: --dir %q: %v\n", *dir, err)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "up":
		err = up(abs, *nodes)
	case "run":
		err = run(abs, *nodes)
	case "down":
		err = down(abs)
	case "status":
		err = status(abs)
	default:
		usage(os.Stderr)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "testcluster %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: testcluster up|down|status|run [--dir .cluster] [--nodes 1]")
}

func pidFile(dir string) string   { return filepath.Join(dir, "testcluster.pid") }
func readyFile(dir string) string { return filepath.Join(dir, "ready") }
func logFile(dir string) string   { return filepath.Join(dir, "testcluster.log") }
func dataDir(dir string) string   { return filepath.Join(dir, "data") }

// runningPID returns the daemon's pid if the pid file names a live
// testcluster process.
func runningPID(dir string) (int, bool) {
	b, err := os.ReadFile(pidFile(dir))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "testcluster") {
		return 0, false
	}
	return pid, true
}

func up(dir string, nodes int) error {
	if pid, ok := runningPID(dir); ok {
		fmt.Printf("test control plane already running (pid %d)\n", pid)
		return printUsage(dir)
	}
	if nodes < 1 {
		return fmt.Errorf("--nodes is %d, want at least 1", nodes)
	}
	// A fresh cluster each time: new certificates would not match old data.
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clear %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	logf, err := os.Create(logFile(dir))
	if err != nil {
		return fmt.Errorf("create log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(self, "run", "--dir", dir, "--nodes", strconv.Itoa(nodes))
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own session: the daemon outlives this command and the terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start daemon: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(3 * time.Minute)
	for {
		if _, err := os.Stat(readyFile(dir)); err == nil {
			break
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logFile(dir))
			return fmt.Errorf("daemon exited (%v) before the cluster was ready; its log:\n%s", err, b)
		case <-deadline:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			return fmt.Errorf("cluster not ready after 3 minutes; see %s", logFile(dir))
		case <-time.After(100 * time.Millisecond):
		}
	}
	ready, _ := os.ReadFile(readyFile(dir))
	fmt.Printf("test control plane up in %s (daemon pid %d)\n%s", time.Since(begin).Round(time.Millisecond), cmd.Process.Pid, ready)
	return printUsage(dir)
}

func printUsage(dir string) error {
	kc := filepath.Join(dir, "kubeconfig")
	fmt.Printf(`
kubeconfig: %s
  export KUBECONFIG=%s
  kubectl get nodes
  kubectl create job hello --image=busybox -- true   # kwok runs it: Running, then Succeeded
  kubectl get jobs,pods -w
pod behaviour annotations (on a Job's pod template): see docs/testing.md
logs: %s/logs/   stop: make cluster-down
`, kc, kc, dataDir(dir))
	return nil
}

func run(dir string, nodes int) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := os.MkdirAll(dataDir(dir), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dataDir(dir), err)
	}
	if err := os.WriteFile(pidFile(dir), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	defer os.Remove(pidFile(dir))
	c, err := testcluster.Start(ctx, testcluster.Config{Dir: dataDir(dir), Nodes: nodes, Logger: logger})
	if err != nil {
		return err
	}
	defer func() {
		if err := c.Stop(); err != nil {
			logger.Error("stop", "err", err)
		}
		logger.Info("test control plane stopped")
	}()
	if err := c.WriteKubeconfig(filepath.Join(dir, "kubeconfig")); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "start of the rig (Start): %s\n", c.StartupTime().Round(time.Millisecond))
	for _, p := range c.Processes() {
		fmt.Fprintf(&b, "  %-24s pid %-7d RSS %6.1f MiB\n", p.Name, p.PID, float64(p.RSSBytes)/(1<<20))
	}
	if err := os.WriteFile(readyFile(dir), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write ready file: %w", err)
	}
	logger.Info("test control plane ready", "kubeconfig", filepath.Join(dir, "kubeconfig"))
	<-ctx.Done()
	os.Remove(readyFile(dir))
	return nil
}

func down(dir string) error {
	pid, ok := runningPID(dir)
	if !ok {
		fmt.Println("test control plane is not running")
	} else {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(30 * time.Second)
		for {
			// Wait for the process itself, not its pid file: it removes
			// the file a moment before it exits.
			if !alive(pid) {
				break
			}
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL) // its children die with it (Pdeathsig)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		fmt.Printf("test control plane stopped (daemon pid %d)\n", pid)
	}
	// Belt and braces: anything whose owner is gone.
	killed, err := testcluster.SweepStale()
	if err != nil {
		return err
	}
	if len(killed) > 0 {
		fmt.Printf("killed leftover processes %v\n", killed)
	}
	if err := os.Remove(pidFile(dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}

func status(dir string) error {
	pid, ok := runningPID(dir)
	if !ok {
		fmt.Println("test control plane is not running")
		return nil
	}
	fmt.Printf("test control plane running (daemon pid %d), kubeconfig %s\n", pid, filepath.Join(dir, "kubeconfig"))
	ready, _ := os.ReadFile(readyFile(dir))
	fmt.Print(string(ready))
	return nil
}
