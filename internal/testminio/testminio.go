package testminio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/taskgate/taskgate/internal/childproc"
)

// ErrBinaryMissing is wrapped by Binary when the MinIO server is not built.
var ErrBinaryMissing = errors.New("MinIO server binary not built: run ./hack/minio-bin.sh (or make minio-bin), or set TASKGATE_MINIO_BIN")

// Credentials and region of every server Start runs.
const (
	AccessKey = "taskgate-test"
	SecretKey = "taskgate-test-secret"
	Region    = "us-east-1"
)

const (
	modulePath   = "github.com/taskgate/taskgate"
	startTimeout = 60 * time.Second
)

// Server is one running MinIO server.
type Server struct {
	// Endpoint is host:port, as minio-go takes it.
	Endpoint string
	// URL is http://Endpoint, as druid.s3.endpoint.url takes it.
	URL string
	// Bucket was created by Start.
	Bucket string
	// Dir holds the server's data.
	Dir string

	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
}

// Binary returns the path of the MinIO server binary, or an error wrapping
// ErrBinaryMissing.
func Binary() (string, error) {
	if p := os.Getenv("TASKGATE_MINIO_BIN"); p != "" {
		return checkExec(p)
	}
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("find the MinIO binary: %w (or set TASKGATE_MINIO_BIN)", err)
	}
	// The script owns the pinned version; asking it keeps one definition.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "hack", "minio-bin.sh"), "path")
	cmd.Env = os.Environ()
	if os.Getenv("TASKGATE_CACHE") == "" {
		cmd.Env = append(cmd.Env, "TASKGATE_CACHE="+filepath.Join(root, ".cache"))
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/minio-bin.sh path: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return checkExec(strings.TrimSpace(string(out)))
}

func checkExec(p string) (string, error) {
	fi, err := os.Stat(p)
	if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%w (no executable at %s)", ErrBinaryMissing, p)
	}
	return p, nil
}

// Start runs a fresh MinIO server on 127.0.0.1 with one bucket and stops it
// when t ends. It skips under -short and fails t when the binary is missing.
func Start(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("MinIO integration test skipped in -short mode")
	}
	bin, err := Binary()
	if err != nil {
		t.Fatalf("testminio: %v", err)
	}
	var lastErr error
	// A free port can be taken between probing and binding; try again then.
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(t, bin)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("testminio: %v", lastErr)
	return nil
}

func start(t testing.TB, bin string) (*Server, error) {
	dir := t.TempDir()
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	consolePort, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Endpoint: net.JoinHostPort("127.0.0.1", strconv.Itoa(apiPort)),
		Bucket:   "taskgate-test",
		Dir:      filepath.Join(dir, "data"),
		logPath:  filepath.Join(dir, "minio.log"),
		done:     make(chan struct{}),
	}
	s.URL = "http://" + s.Endpoint
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, fmt.Errorf("create MinIO log: %w", err)
	}
	defer logf.Close() // the child keeps its own descriptor
	s.cmd = exec.Command(bin, "server", s.Dir,
		"--address", s.Endpoint,
		"--console-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(consolePort)),
		"--certs-dir", filepath.Join(dir, "certs"),
		"--quiet")
	s.cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+AccessKey,
		"MINIO_ROOT_PASSWORD="+SecretKey,
		"MINIO_REGION="+Region,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"HOME="+dir, // MinIO writes ~/.minio and ~/.mc-like state otherwise
	)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := childproc.Start(s.cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.stop)

	if err := s.waitLive(); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w; log %s:\n%s", err, s.logPath, s.logTail())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := s.newClient()
	if err != nil {
		s.stop()
		return nil, err
	}
	if err := client.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{Region: Region}); err != nil {
		s.stop()
		return nil, fmt.Errorf("create bucket %s: %w", s.Bucket, err)
	}
	return s, nil
}

func (s *Server) waitLive() error {
	deadline := time.Now().Add(startTimeout)
	c := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return errors.New("MinIO exited during startup")
		default:
		}
		resp, err := c.Get(s.URL + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("MinIO not live on %s after %s", s.Endpoint, startTimeout)
}

// stop kills the server's process group and waits for it.
func (s *Server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (s *Server) newClient() (*minio.Client, error) {
	c, err := minio.New(s.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(AccessKey, SecretKey, ""),
		Region:       Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("S3 client for %s: %w", s.Endpoint, err)
	}
	return c, nil
}

// Client returns an S3 client of the server with root credentials.
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := s.newClient()
	if err != nil {
		t.Fatalf("testminio: %v", err)
	}
	return c
}

// Kill stops the server now (for tests of an unreachable store).
func (s *Server) Kill() { s.stop() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && isModule(b) {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", errors.New("no go.mod of module " + modulePath + " above " + wd)
		}
	}
}

func isModule(gomod []byte) bool {
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == modulePath
		}
	}
	return false
}
