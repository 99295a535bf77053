// Command gateway is taskgate's binary: the front door for Druid ingestion
// tasks. It only wires packages together; the work lives in them.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `gateway: the front door for Apache Druid ingestion tasks

Usage:
  gateway <command> [flags]

Commands:
  serve            run the gateway (HTTP API, runners, telemetry)
  validate-config  load and validate the configuration, print the effective properties
  render           dry run: print the Kubernetes Job a task would get, and which pod template and why
  lint-templates   check the pod template files: what would break the peon, what taskgate overwrites
  version          print the version

Run "gateway <command> -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the process exit code: 0 success,
// 1 failure, 2 bad usage.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], environ, stdout, stderr)
	case "validate-config":
		return validateConfig(args[1:], environ, stdout, stderr)
	case "render":
		return render(args[1:], environ, stdout, stderr)
	case "lint-templates":
		return lintTemplates(args[1:], environ, stdout, stderr)
	case "version":
		return printVersion(stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "gateway: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
