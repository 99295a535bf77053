package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/taskgate/taskgate/internal/version"
)

func printVersion(out io.Writer) int {
	fmt.Fprintf(out, "taskgate %s (%s)\n", version.Version, runtime.Version())
	return 0
}
