package tasklogs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/minio/minio-go/v7"

	"github.com/taskgate/taskgate/task"
)

// S3 is Druid's S3TaskLogs: the files of task T are the objects
// "{prefix}/T/log", "{prefix}/T/report.json", "{prefix}/T/status.json" and
// "{prefix}/T/task.json" in one bucket. The key is built exactly as Druid
// formats it ("%s/%s/%s"), so a prefix with a trailing '/' gives "//" in the
// key there too.
type S3 struct {
	client     *minio.Client
	bucket     string
	prefix     string
	disableACL bool
}

var _ Store = (*S3)(nil)

// pushPartSize bounds the memory of a push of unknown length (a streamed log):
// minio-go buffers one part, and its default for unknown sizes is hundreds of
// MiB. 16 MiB parts still allow logs of 160 GB (10,000 parts).
const pushPartSize = 16 << 20

// NewS3 returns the S3 store for cfg (validated first). It makes no request:
// a wrong endpoint or key shows on the first read.
func NewS3(cfg S3Config) (*S3, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	host, secure, err := cfg.endpoint()
	if err != nil {
		return nil, err
	}
	creds, err := cfg.credentials()
	if err != nil {
		return nil, err
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyleAccess {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(host, &minio.Options{
		Creds:        creds,
		Secure:       secure,
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 task log store: client for %s: %w", host, err)
	}
	return &S3{client: client, bucket: cfg.Bucket, prefix: cfg.Prefix, disableACL: cfg.DisableACL}, nil
}

// Bucket returns the store's bucket.
func (s *S3) Bucket() string { return s.bucket }

// Key returns the object key of file name ("log", "report.json",
// "status.json", "task.json") of taskID, as S3TaskLogs.getTaskLogKey.
func (s *S3) Key(taskID, name string) string {
	return fmt.Sprintf("%s/%s/%s", s.prefix, taskID, name)
}

func (s *S3) where(key string) string { return "s3://" + s.bucket + "/" + key }

// isNotFound is S3TaskLogs' test for "absent": HTTP 404, NoSuchKey or
// NoSuchBucket.
func isNotFound(err error) bool {
	resp := minio.ToErrorResponse(err)
	return resp.StatusCode == http.StatusNotFound || resp.Code == "NoSuchKey" || resp.Code == "NoSuchBucket"
}

// get opens an object. A range that starts past the end (S3 answers 416)
// gives an empty stream: the object exists, there is just nothing left.
func (s *S3) get(ctx context.Context, taskID, name string, opts minio.GetObjectOptions) (io.ReadCloser, bool, error) {
	if err := checkID(taskID); err != nil {
		return nil, false, err
	}
	key := s.Key(taskID, name)
	obj, err := s.client.GetObject(ctx, s.bucket, key, opts)
	if err == nil {
		// GetObject is lazy; Stat sends the GET (with the range) and keeps its
		// body for the reads that follow, so this is one request.
		_, err = obj.Stat()
		if err != nil {
			obj.Close()
		}
	}
	switch {
	case err == nil:
		return obj, true, nil
	case isNotFound(err):
		return nil, false, nil
	case minio.ToErrorResponse(err).Code == "InvalidRange":
		return emptyReadCloser(), true, nil
	default:
		return nil, false, fmt.Errorf("read %s: %w", s.where(key), err)
	}
}

// StreamLog implements Store with one ranged GET: "bytes=N-" for a positive
// offset, the suffix range "bytes=-N" for a negative one (S3 returns the
// whole object when it is shorter than N, as Druid does).
func (s *S3) StreamLog(ctx context.Context, taskID string, offset int64) (io.ReadCloser, bool, error) {
	var opts minio.GetObjectOptions
	var err error
	switch {
	case offset > 0:
		err = opts.SetRange(offset, 0)
	case offset < 0:
		err = opts.SetRange(0, offset)
	}
	if err != nil {
		return nil, false, fmt.Errorf("log of %s: offset %d: %w", taskID, offset, err)
	}
	return s.get(ctx, taskID, nameLog, opts)
}

// Report implements Store.
func (s *S3) Report(ctx context.Context, taskID string) (io.ReadCloser, bool, error) {
	return s.get(ctx, taskID, nameReport, minio.GetObjectOptions{})
}

// Status implements Store.
func (s *S3) Status(ctx context.Context, taskID string) (*task.Status, bool, error) {
	r, ok, err := s.get(ctx, taskID, nameStatus, minio.GetObjectOptions{})
	if !ok || err != nil {
		return nil, ok, err
	}
	defer r.Close()
	where := s.where(s.Key(taskID, nameStatus))
	b, err := readLimited(r, maxStatusBytes, where)
	if err != nil {
		return nil, false, err
	}
	st, err := parseStatus(b, where)
	if err != nil {
		return nil, false, err
	}
	return st, true, nil
}

// PushTaskPayload implements Store (and adapters.PayloadStore).
func (s *S3) PushTaskPayload(ctx context.Context, taskID string, payload []byte) error {
	return s.push(ctx, taskID, namePayload, bytes.NewReader(payload), int64(len(payload)), "application/json")
}

// TaskPayload implements Store (and adapters.PayloadSource).
func (s *S3) TaskPayload(ctx context.Context, taskID string) ([]byte, error) {
	r, ok, err := s.get(ctx, taskID, namePayload, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	where := s.where(s.Key(taskID, namePayload))
	if !ok {
		return nil, fmt.Errorf("task payload %s: %w", where, ErrNotFound)
	}
	defer r.Close()
	return readLimited(r, maxPayloadBytes, where)
}

// PushTaskLog stores a task's log where StreamLog finds it, as Druid's
// pushTaskLog (the Overlord's Kubernetes runner saves the pod log this way).
func (s *S3) PushTaskLog(ctx context.Context, taskID string, log io.Reader) error {
	return s.push(ctx, taskID, nameLog, log, -1, "text/plain")
}

func (s *S3) push(ctx context.Context, taskID, name string, r io.Reader, size int64, contentType string) error {
	if err := checkID(taskID); err != nil {
		return err
	}
	key := s.Key(taskID, name)
	opts := minio.PutObjectOptions{ContentType: contentType}
	if size < 0 {
		opts.PartSize = pushPartSize
	}
	if !s.disableACL {
		// Druid grants the bucket owner full control unless disableAcl is set,
		// for buckets owned by another account; the canned ACL says the same.
		opts.UserMetadata = map[string]string{"x-amz-acl": "bucket-owner-full-control"}
	}
	if _, err := s.client.PutObject(ctx, s.bucket, key, r, size, opts); err != nil {
		return fmt.Errorf("write %s: %w", s.where(key), err)
	}
	return nil
}
