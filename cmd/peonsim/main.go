// Command peonsim stands in for Druid peons on a cluster whose pods run
// nothing (the local kwok control plane): it writes each peon pod's task log
// and status.json into a file task-log directory, as a peon does. Used by
// `make run`; see internal/peonsim.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/taskgate/taskgate/internal/peonsim"
)

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig `file`")
	namespace := flag.String("namespace", "default", "namespace of the peon pods")
	dir := flag.String("task-log-dir", "var/tasklogs", "file task-log directory (druid.indexer.logs.directory)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *kubeconfig, *namespace, *dir, log); err != nil {
		fmt.Fprintln(os.Stderr, "peonsim:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, kubeconfig, namespace, dir string, log *slog.Logger) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	log.Info("peonsim: watching peon pods", "namespace", namespace, "taskLogDir", dir)
	return peonsim.Run(ctx, client, peonsim.Config{Namespace: namespace, TaskLogDir: dir, Logger: log})
}
