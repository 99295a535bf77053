package tasklogs

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/internal/testminio"
)

// s3Props are the runtime properties a Druid cluster on MinIO uses.
func s3Props(srv *testminio.Server, prefix string) mapProps {
	return mapProps{
		PropType:              "s3",
		PropS3Bucket:          srv.Bucket,
		PropS3Prefix:          prefix,
		PropS3EndpointURL:     srv.URL,
		PropS3SigningRegion:   testminio.Region,
		PropS3PathStyleAccess: "true",
		PropS3AccessKey:       testminio.AccessKey,
		PropS3SecretKey:       testminio.SecretKey,
	}
}

func newS3FromProps(t *testing.T, p mapProps) *S3 {
	t.Helper()
	cfg, err := ConfigFromProperties(p)
	require.NoError(t, err)
	st, err := New(cfg)
	require.NoError(t, err)
	s3, ok := st.(*S3)
	require.True(t, ok, "New returned %T", st)
	return s3
}

func TestS3Contract(t *testing.T) {
	srv := testminio.Start(t)
	client := srv.Client(t)
	for _, prefix := range []string{"druid/indexing-logs", ""} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			store := newS3FromProps(t, s3Props(srv, prefix))
			// S3TaskLogs.getTaskLogKey: format("%s/%s/%s", s3Prefix, taskid, filename).
			druidKey := func(taskID, name string) string { return prefix + "/" + taskID + "/" + name }
			runContract(t, harness{
				store: store,
				put: func(t *testing.T, taskID, name string, data []byte) {
					_, err := client.PutObject(context.Background(), srv.Bucket, druidKey(taskID, name),
						bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
					require.NoError(t, err)
				},
				get: func(t *testing.T, taskID, name string) ([]byte, bool) {
					obj, err := client.GetObject(context.Background(), srv.Bucket, druidKey(taskID, name), minio.GetObjectOptions{})
					require.NoError(t, err)
					defer obj.Close()
					b, err := io.ReadAll(obj)
					if minio.ToErrorResponse(err).Code == "NoSuchKey" {
						return nil, false
					}
					require.NoError(t, err)
					return b, true
				},
				where:   func(taskID, name string) string { return "s3://" + srv.Bucket + "/" + druidKey(taskID, name) },
				pushLog: store.PushTaskLog,
			})
		})
	}

	t.Run("missing bucket is absent", func(t *testing.T) {
		p := s3Props(srv, "logs")
		p[PropS3Bucket] = "no-such-bucket"
		store := newS3FromProps(t, p)
		_, ok, err := store.Status(context.Background(), "t1")
		require.NoError(t, err)
		assert.False(t, ok)
		_, ok, err = store.StreamLog(context.Background(), "t1", -10)
		require.NoError(t, err)
		assert.False(t, ok)
	})

	t.Run("wrong credentials are an error, not absent", func(t *testing.T) {
		p := s3Props(srv, "logs")
		p[PropS3SecretKey] = "wrong-secret-key"
		store := newS3FromProps(t, p)
		_, ok, err := store.Status(context.Background(), "t1")
		require.Error(t, err)
		assert.False(t, ok)
		assert.Contains(t, err.Error(), "s3://"+srv.Bucket+"/logs/t1/status.json")
	})

	t.Run("disableAcl=false pushes with the bucket-owner grant", func(t *testing.T) {
		p := s3Props(srv, "acl")
		p[PropDisableACL] = "false"
		store := newS3FromProps(t, p)
		require.NoError(t, store.PushTaskPayload(context.Background(), "t1", []byte("{}")))
		p[PropDisableACL] = "true"
		store = newS3FromProps(t, p)
		require.NoError(t, store.PushTaskPayload(context.Background(), "t2", []byte("{}")))
	})

	t.Run("unreachable server is an error, not absent", func(t *testing.T) {
		other := testminio.Start(t)
		store := newS3FromProps(t, s3Props(other, "logs"))
		other.Kill()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, ok, err := store.Status(ctx, "t1")
		require.Error(t, err)
		assert.False(t, ok)
	})
}

func TestS3RequestsAreRanged(t *testing.T) {
	srv := testminio.Start(t)
	rec := &recordingTransport{next: http.DefaultTransport}
	cfg, err := ConfigFromProperties(s3Props(srv, "p"))
	require.NoError(t, err)
	cfg.S3.Transport = rec
	store, err := NewS3(cfg.S3)
	require.NoError(t, err)
	big := bytes.Repeat([]byte("0123456789"), 100_000) // 1 MB
	_, err = srv.Client(t).PutObject(context.Background(), srv.Bucket, "p/t1/log", bytes.NewReader(big), int64(len(big)), minio.PutObjectOptions{})
	require.NoError(t, err)

	cases := []struct {
		offset    int64
		wantRange string
		wantLen   int
	}{
		{0, "", len(big)},
		{999_990, "bytes=999990-", 10},
		{-25, "bytes=-25", 25},
	}
	for _, tc := range cases {
		rec.ranges = nil
		r, ok, err := store.StreamLog(context.Background(), "t1", tc.offset)
		require.NoError(t, err)
		require.True(t, ok)
		got := readAll(t, r)
		assert.Len(t, got, tc.wantLen, "offset %d", tc.offset)
		assert.Equal(t, string(big[len(big)-tc.wantLen:]), got, "offset %d", tc.offset)
		require.Len(t, rec.ranges, 1, "offset %d: one GET", tc.offset)
		assert.Equal(t, tc.wantRange, rec.ranges[0], "offset %d", tc.offset)
	}
}

type recordingTransport struct {
	next   http.RoundTripper
	ranges []string
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && req.URL.Query().Get("location") == "" {
		r.ranges = append(r.ranges, req.Header.Get("Range"))
	}
	return r.next.RoundTrip(req)
}
