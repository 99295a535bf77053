// Package version holds the build version, set by the linker from git.
package version

// Version is set with -ldflags "-X github.com/taskgate/taskgate/internal/version.Version=...".
var Version = "dev"
