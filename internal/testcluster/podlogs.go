package testcluster

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// podLogFile is the file, in Dir, that kwok serves as the log of every
// container of every pod (one ClusterLogs rule for all). kwok reads it with
// the kubelet's CRI log reader, so it holds CRI log lines, not plain text.
const podLogFile = "pod.log"

// clusterLogs is the kwok ClusterLogs resource that points every container
// at the shared log file. follow: kwok then keeps a followed stream open
// (waiting for writes) until the client goes away, as a kubelet does for a
// running container; kwok has no container that could end.
func clusterLogs(path string) string {
	return fmt.Sprintf(`apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: taskgate-pod-logs
spec:
  logs:
  - logsFile: %q
    follow: true
`, path)
}

// PodLogPath is the file kwok serves as the log of every container of every
// pod on the fake nodes (GET pods/{name}/log through the apiserver). It is in
// CRI log format; write it with SetPodLog and AppendPodLog, which encode
// plain text. All pods share it.
func (c *Cluster) PodLogPath() string { return filepath.Join(c.dir, podLogFile) }

// SetPodLog replaces the log that every container serves with text, byte for
// byte (a last line without "\n" is served without one). Readers that follow
// a log see later AppendPodLog writes; replacing the content under a
// follower is not meant to be used.
func (c *Cluster) SetPodLog(text string) error {
	c.podLogMu.Lock()
	defer c.podLogMu.Unlock()
	if err := os.WriteFile(c.PodLogPath(), criLog(text, time.Now()), 0o644); err != nil {
		return fmt.Errorf("set pod log: %w", err)
	}
	return nil
}

// AppendPodLog adds text to the log every container serves; followers of a
// pod's log receive it.
func (c *Cluster) AppendPodLog(text string) error {
	c.podLogMu.Lock()
	defer c.podLogMu.Unlock()
	f, err := os.OpenFile(c.PodLogPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("append pod log: %w", err)
	}
	// One write, so a follower never sees half a CRI line.
	if _, err := f.Write(criLog(text, time.Now())); err != nil {
		f.Close()
		return fmt.Errorf("append pod log: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("append pod log: %w", err)
	}
	return nil
}

// criLog encodes text as CRI log lines on stdout: a full line ("F") per line
// of text, and a partial one ("P", served without its newline) for a last
// line that has no "\n", so the reader gives back exactly text.
func criLog(text string, at time.Time) []byte {
	ts := at.UTC().Format(time.RFC3339Nano)
	var b bytes.Buffer
	for text != "" {
		line, rest, full := strings.Cut(text, "\n")
		tag := "P"
		if full {
			tag = "F"
		}
		b.WriteString(ts + " stdout " + tag + " " + line + "\n")
		text = rest
	}
	return b.Bytes()
}
