// Command mmsim runs a simulated Druid Middle Manager (internal/mmsim) that
// speaks Druid's worker HTTP protocol, for demos and `make run`.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/taskgate/taskgate/internal/mmsim"
	"github.com/taskgate/taskgate/task"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mmsim:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mmsim", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8091", "address to listen on")
	host := fs.String("host", "127.0.0.1", "host name announced for the worker and its task locations")
	capacity := fs.Int("capacity", 2, "task slots (druid.worker.capacity)")
	category := fs.String("category", "_default_worker_category", "worker category (druid.worker.category)")
	version := fs.String("version", "0", "worker version (druid.worker.version)")
	logDir := fs.String("task-log-dir", "", "directory for task logs, reports and status.json in FileTaskLogs layout (empty: none)")
	startPort := fs.Int("start-port", 8100, "first fake peon port")
	duration := fs.Duration("default-duration", 100*time.Millisecond, "run time of tasks without context.simulate.durationMs")
	result := fs.String("default-result", "SUCCESS", "result of tasks without context.simulate.result (SUCCESS or FAILED)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	mm, err := mmsim.New(mmsim.Config{
		Listen: *listen, Host: *host, Capacity: *capacity, Category: *category, Version: *version,
		TaskLogDir: *logDir, StartPort: *startPort, DefaultDuration: *duration,
		DefaultResult: task.State(*result), Logger: logger,
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := mm.Start(ctx); err != nil {
		return err
	}
	logger.Info("serving Druid worker protocol", "url", mm.URL(), "worker", mm.HostAndPort())
	<-ctx.Done()
	logger.Info("stopping")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return mm.Stop(sctx, false)
}
