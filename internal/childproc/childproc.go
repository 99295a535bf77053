// Package childproc starts the helper servers tests depend on (the control
// plane, MinIO) so that they never outlive the test binary: each child gets
// its own process group and is killed by the kernel when the parent dies.
package childproc

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// spawner starts children from one goroutine locked to its OS thread for the
// life of the process. Pdeathsig fires when the *thread* that forked the
// child exits, not the process, and the Go runtime may retire other threads,
// which would kill children at random. This thread never exits.
var spawner struct {
	once sync.Once
	reqs chan spawnReq
}

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

// Start starts cmd in its own process group (so a stop can signal everything
// it spawned) with SIGKILL as its parent-death signal. Fields of
// cmd.SysProcAttr other than Setpgid and Pdeathsig are kept.
func Start(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread must outlive every child
			for r := range spawner.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawner.reqs <- spawnReq{cmd: cmd, done: done}
	return <-done
}
