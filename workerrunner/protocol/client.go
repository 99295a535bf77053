package protocol

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/taskgate/taskgate/internal/smile"
)

// ClientConfig configures a Client for one worker.
type ClientConfig struct {
	// BaseURL is the worker, e.g. "http://mm-0.mm:8091". Required.
	BaseURL string
	// Attempts is how many times a retried call (assignTask, shutdown,
	// enabled, enable, disable, tasks) is tried in total. Default 3, Druid's
	// assignRequestMaxRetries / shutdownRequestMaxRetries. Sync and log calls
	// are tried once: the caller's loop owns their backoff, as Druid's syncer does.
	Attempts int
	// RetryWaitMin and RetryWaitMax bound the exponential wait between
	// attempts. Defaults 1 s and 60 s, Druid's backoff base and cap.
	RetryWaitMin time.Duration
	RetryWaitMax time.Duration
	// RequestTimeout bounds one attempt of a non-streaming call and the wait
	// for a log's response headers. Default 1 minute (Druid's
	// assignRequestHttpTimeout and shutdownRequestHttpTimeout).
	RequestTimeout time.Duration
	// SyncGrace is added to the long-poll timeout for the sync call's HTTP
	// deadline. Default 5 s, as Druid's syncer.
	SyncGrace time.Duration
	// Username and Password, when set, are sent as HTTP Basic (Druid's
	// escalator credentials).
	Username string
	Password string
	// Logger receives retry messages; default slog.Default().
	Logger *slog.Logger
	// Smile makes the client encode as Druid's Overlord does: assignTask
	// bodies are sent as Smile, and the sync call sends
	// "Accept: application/x-jackson-smile" and decodes the answer as Smile
	// whatever its Content-Type. Real workers speak both; JSON (the default)
	// is easier to read on the wire.
	Smile bool
}

func (c *ClientConfig) withDefaults() ClientConfig {
	out := *c
	if out.Attempts == 0 {
		out.Attempts = 3
	}
	if out.RetryWaitMin == 0 {
		out.RetryWaitMin = time.Second
	}
	if out.RetryWaitMax == 0 {
		out.RetryWaitMax = time.Minute
	}
	if out.RequestTimeout == 0 {
		out.RequestTimeout = time.Minute
	}
	if out.SyncGrace == 0 {
		out.SyncGrace = 5 * time.Second
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	return out
}

// Validate checks the configuration (after defaults are applied).
func (c ClientConfig) Validate() error {
	d := c.withDefaults()
	u, err := url.Parse(d.BaseURL)
	switch {
	case d.BaseURL == "":
		return errors.New("client config: BaseURL is required")
	case err != nil:
		return fmt.Errorf("client config: BaseURL %q: %w", d.BaseURL, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("client config: BaseURL %q: scheme must be http or https", d.BaseURL)
	case u.Host == "":
		return fmt.Errorf("client config: BaseURL %q: host is required", d.BaseURL)
	case d.Attempts < 1:
		return fmt.Errorf("client config: Attempts must be at least 1, got %d", d.Attempts)
	case d.RetryWaitMin < 0 || d.RetryWaitMax < d.RetryWaitMin:
		return fmt.Errorf("client config: need 0 <= RetryWaitMin (%s) <= RetryWaitMax (%s)", d.RetryWaitMin, d.RetryWaitMax)
	case d.RequestTimeout < 0 || d.SyncGrace < 0:
		return errors.New("client config: RequestTimeout and SyncGrace must not be negative")
	}
	return nil
}

// StatusError is an unexpected HTTP status from a worker.
type StatusError struct {
	Op   string
	Code int
	Body string
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("%s: worker answered HTTP %d", e.Op, e.Code)
	}
	return fmt.Sprintf("%s: worker answered HTTP %d: %s", e.Op, e.Code, e.Body)
}

// Client calls one worker's endpoints. It is safe for concurrent use.
type Client struct {
	cfg     ClientConfig
	base    *url.URL
	retry   *retryablehttp.Client // bounded attempts, per-attempt timeout
	once    *retryablehttp.Client // one attempt, caller's deadline (sync)
	logOnce *retryablehttp.Client // one attempt, header timeout, body unbounded (log)
}

// NewClient returns a client for cfg.BaseURL.
func NewClient(cfg ClientConfig) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := cfg.withDefaults()
	base, _ := url.Parse(strings.TrimRight(d.BaseURL, "/"))
	mk := func(attempts int, timeout, headerTimeout time.Duration) *retryablehttp.Client {
		tr := cleanhttp.DefaultPooledTransport()
		tr.ResponseHeaderTimeout = headerTimeout
		rc := retryablehttp.NewClient()
		rc.HTTPClient = &http.Client{Transport: tr, Timeout: timeout}
		rc.RetryMax = attempts - 1
		rc.RetryWaitMin = d.RetryWaitMin
		rc.RetryWaitMax = d.RetryWaitMax
		rc.Logger = slogAdapter{d.Logger}
		// Hand back the last response instead of a "giving up" error, so
		// callers see the worker's status and message.
		rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
		return rc
	}
	return &Client{
		cfg:     d,
		base:    base,
		retry:   mk(d.Attempts, d.RequestTimeout, 0),
		once:    mk(1, 0, 0),
		logOnce: mk(1, 0, d.RequestTimeout),
	}, nil
}

// BaseURL returns the worker's base URL.
func (c *Client) BaseURL() string { return c.base.String() }

// EscapeTaskID encodes a task id for a URL path as Druid does
// (StringUtils.urlEncode: form encoding, ':' → %3A, ' ' → '+').
func EscapeTaskID(id string) string { return url.QueryEscape(id) }

func (c *Client) newRequest(ctx context.Context, method, rawPath string, query url.Values, body []byte) (*retryablehttp.Request, error) {
	u := *c.base
	u.RawPath = c.base.EscapedPath() + rawPath
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return nil, fmt.Errorf("build URL for %s: %w", rawPath, err)
	}
	u.Path = p
	if query != nil {
		u.RawQuery = query.Encode()
	}
	var b any
	if body != nil {
		b = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u.String(), b)
	if err != nil {
		return nil, fmt.Errorf("build %s %s: %w", method, rawPath, err)
	}
	if c.cfg.Username != "" || c.cfg.Password != "" {
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	}
	return req, nil
}

// do sends req and returns the response; the caller closes its body.
func do(hc *retryablehttp.Client, req *retryablehttp.Request, op string) (*http.Response, error) {
	resp, err := hc.Do(req)
	if err != nil {
		if resp != nil {
			_ = resp.Body.Close()
		}
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return resp, nil
}

func statusError(op string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return &StatusError{Op: op, Code: resp.StatusCode, Body: strings.TrimSpace(string(b))}
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
}

// AssignTask POSTs the task to assignTask: the JSON byte for byte, or its
// Smile encoding when ClientConfig.Smile is set. Success
// is HTTP 200 exactly; other answers are retried up to Attempts in total
// when retryable (transport errors, 5xx except 501, 429).
func (c *Client) AssignTask(ctx context.Context, taskJSON []byte) error {
	op := "assign task"
	body, contentType := taskJSON, ContentTypeJSON
	if c.cfg.Smile {
		b, err := smile.FromJSON(taskJSON, smile.EncodeOptions{})
		if err != nil {
			return fmt.Errorf("%s: encode task as Smile: %w", op, err)
		}
		body, contentType = b, ContentTypeSmile
	}
	req, err := c.newRequest(ctx, http.MethodPost, PathAssignTask, nil, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := do(c.retry, req, op)
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return statusError(op, resp)
	}
	return nil
}

// Sync long-polls the worker's change history. since nil asks for the full
// state (counter=-1). timeout is the server-side park time (Druid's
// syncRequestTimeout); the HTTP deadline is timeout + SyncGrace. A nil
// snapshot with a nil error means 204: nothing changed within timeout.
// A reset snapshot (ResetCounter true) means: drop the counter, call again
// with nil.
func (c *Client) Sync(ctx context.Context, since *Counter, timeout time.Duration) (*ChangeRequestsSnapshot, error) {
	op := "worker sync"
	ms := timeout.Milliseconds()
	if ms <= 0 {
		return nil, fmt.Errorf("%s: timeout must be at least 1ms, got %s", op, timeout)
	}
	q := url.Values{}
	if since == nil {
		q.Set("counter", "-1")
	} else {
		q.Set("counter", strconv.FormatInt(since.Counter, 10))
		q.Set("hash", strconv.FormatInt(since.Hash, 10))
	}
	q.Set("timeout", strconv.FormatInt(ms, 10))
	ctx, cancel := context.WithTimeout(ctx, timeout+c.cfg.SyncGrace)
	defer cancel()
	req, err := c.newRequest(ctx, http.MethodGet, PathWorkerSync, q, nil)
	if err != nil {
		return nil, err
	}
	if c.cfg.Smile {
		req.Header.Set("Accept", ContentTypeSmile)
	} else {
		req.Header.Set("Accept", ContentTypeJSON)
	}
	resp, err := do(c.once, req, op)
	if err != nil {
		return nil, err
	}
	defer drain(resp)
	switch resp.StatusCode {
	case http.StatusNoContent:
		return nil, nil
	case http.StatusOK:
	default:
		return nil, statusError(op, resp)
	}
	var snap ChangeRequestsSnapshot
	if c.cfg.Smile {
		if err := decodeSmile(resp.Body, &snap); err != nil {
			return nil, fmt.Errorf("%s: decode Smile snapshot: %w", op, err)
		}
		return &snap, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		return nil, fmt.Errorf("%s: decode snapshot: %w", op, err)
	}
	return &snap, nil
}

// maxSmileBody bounds a Smile answer read into memory before decoding.
const maxSmileBody = smile.DefaultMaxOutputBytes

// decodeSmile reads one Smile document (as the Overlord's Smile mapper does,
// the header is required) and decodes it into v through its JSON form.
func decodeSmile(r io.Reader, v any) error {
	b, err := io.ReadAll(io.LimitReader(r, maxSmileBody+1))
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if len(b) > maxSmileBody {
		return fmt.Errorf("answer larger than %d bytes", maxSmileBody)
	}
	j, err := smile.ToJSON(b)
	if err != nil {
		return err
	}
	return json.Unmarshal(j, v)
}

// ShutdownTask asks the worker to stop a task (200 also for unknown ids).
func (c *Client) ShutdownTask(ctx context.Context, taskID string) error {
	op := "shutdown task " + taskID
	req, err := c.newRequest(ctx, http.MethodPost, pathTaskPrefix+EscapeTaskID(taskID)+"/shutdown", nil, nil)
	if err != nil {
		return err
	}
	resp, err := do(c.retry, req, op)
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return statusError(op, resp)
	}
	return nil
}

// TaskLog streams a running task's log from offset (0 whole, >0 from that
// byte, <0 the last -offset bytes). ErrNotFound (wrapped) when the worker
// does not run the task (404). The caller closes the reader; ctx bounds
// the whole stream.
func (c *Client) TaskLog(ctx context.Context, taskID string, offset int64) (io.ReadCloser, error) {
	op := "task log " + taskID
	q := url.Values{"offset": {strconv.FormatInt(offset, 10)}}
	req, err := c.newRequest(ctx, http.MethodGet, pathTaskPrefix+EscapeTaskID(taskID)+"/log", q, nil)
	if err != nil {
		return nil, err
	}
	resp, err := do(c.logOnce, req, op)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return resp.Body, nil
	case http.StatusNotFound:
		drain(resp)
		return nil, fmt.Errorf("%s: %w", op, ErrNotFound)
	default:
		defer drain(resp)
		return nil, statusError(op, resp)
	}
}

// Enabled reports whether the worker accepts new tasks.
func (c *Client) Enabled(ctx context.Context) (bool, error) {
	var m map[string]bool
	if err := c.getJSON(ctx, "worker enabled", PathEnabled, &m); err != nil {
		return false, err
	}
	if len(m) != 1 {
		return false, fmt.Errorf("worker enabled: want one host:port key, got %d", len(m))
	}
	for _, v := range m {
		return v, nil
	}
	return false, nil
}

// Enable re-enables the worker.
func (c *Client) Enable(ctx context.Context) error { return c.setEnabled(ctx, PathEnable, "enabled") }

// Disable stops the Overlord (and taskgate) from assigning to the worker.
func (c *Client) Disable(ctx context.Context) error {
	return c.setEnabled(ctx, PathDisable, "disabled")
}

func (c *Client) setEnabled(ctx context.Context, path, want string) error {
	op := "worker " + strings.TrimSuffix(want, "d")
	req, err := c.newRequest(ctx, http.MethodPost, path, nil, nil)
	if err != nil {
		return err
	}
	resp, err := do(c.retry, req, op)
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return statusError(op, resp)
	}
	var m map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return fmt.Errorf("%s: decode answer: %w", op, err)
	}
	for _, v := range m {
		if v != want {
			return fmt.Errorf("%s: worker answered %q", op, v)
		}
	}
	return nil
}

// Tasks lists the task ids the worker's process runner knows.
func (c *Client) Tasks(ctx context.Context) ([]string, error) {
	var ids []string
	if err := c.getJSON(ctx, "worker tasks", PathTasks, &ids); err != nil {
		return nil, err
	}
	return ids, nil
}

func (c *Client) getJSON(ctx context.Context, op, path string, v any) error {
	req, err := c.newRequest(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", ContentTypeJSON)
	resp, err := do(c.retry, req, op)
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return statusError(op, resp)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s: read answer: %w", op, err)
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(v); err != nil {
		return fmt.Errorf("%s: decode answer: %w", op, err)
	}
	return nil
}

// slogAdapter routes retryablehttp's leveled logging to slog at debug/warn.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Error(msg string, kv ...any) { a.l.Warn("worker http: "+msg, kv...) }
func (a slogAdapter) Info(msg string, kv ...any)  { a.l.Debug("worker http: "+msg, kv...) }
func (a slogAdapter) Debug(msg string, kv ...any) { a.l.Debug("worker http: "+msg, kv...) }
func (a slogAdapter) Warn(msg string, kv ...any)  { a.l.Warn("worker http: "+msg, kv...) }
