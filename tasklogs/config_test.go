package tasklogs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type mapProps map[string]string

func (m mapProps) Get(k string) (string, bool) { v, ok := m[k]; return v, ok }

func TestConfigFromProperties(t *testing.T) {
	t.Setenv("TASKGATE_TEST_S3_SECRET", "from-env")
	cases := []struct {
		name    string
		props   mapProps
		want    Config
		wantErr []string
	}{
		{
			name:  "defaults are Druid's: file store in log",
			props: mapProps{},
			want:  Config{Type: "file", Directory: "log", S3: S3Config{Protocol: "https"}},
		},
		{
			name:  "file directory",
			props: mapProps{PropType: "file", PropDirectory: " /var/druid/indexing-logs "},
			want:  Config{Type: "file", Directory: "/var/druid/indexing-logs", S3: S3Config{Protocol: "https"}},
		},
		{
			name: "s3 on MinIO",
			props: mapProps{
				PropType: "s3", PropS3Bucket: "deepstorage", PropS3Prefix: "indexing-logs",
				PropS3EndpointURL: "http://localhost:9000/", PropS3PathStyleAccess: "true",
				PropS3AccessKey: "admin", PropS3SecretKey: "password", PropS3SigningRegion: "us-east-1",
				PropDisableACL: "true",
			},
			want: Config{Type: "s3", Directory: "log", S3: S3Config{
				Bucket: "deepstorage", Prefix: "indexing-logs", DisableACL: true,
				Endpoint: "http://localhost:9000/", Protocol: "https", Region: "us-east-1",
				PathStyleAccess: true, AccessKey: "admin", SecretKey: "password",
			}},
		},
		{
			name: "password providers",
			props: mapProps{
				PropType: "s3", PropS3Bucket: "b", PropS3Prefix: "",
				PropS3AccessKey: `{"type":"default","password":"ak"}`,
				PropS3SecretKey: `{"type":"environment","variable":"TASKGATE_TEST_S3_SECRET"}`,
			},
			want: Config{Type: "s3", Directory: "log", S3: S3Config{
				Bucket: "b", Protocol: "https", AccessKey: "ak", SecretKey: "from-env",
			}},
		},
		{
			name:    "unsupported store type",
			props:   mapProps{PropType: "azure"},
			wantErr: []string{PropType, `"azure"`, "not supported"},
		},
		{
			name:    "noop is not supported either",
			props:   mapProps{PropType: "noop"},
			wantErr: []string{"not supported"},
		},
		{
			name:    "s3 without bucket or prefix",
			props:   mapProps{PropType: "s3"},
			wantErr: []string{PropS3Bucket + ": must be set", PropS3Prefix + ": must be set"},
		},
		{
			name:    "empty file directory",
			props:   mapProps{PropDirectory: " "},
			wantErr: []string{PropDirectory},
		},
		{
			name:    "bad boolean",
			props:   mapProps{PropType: "s3", PropS3Bucket: "b", PropS3Prefix: "p", PropS3PathStyleAccess: "yes"},
			wantErr: []string{PropS3PathStyleAccess, "true or false"},
		},
		{
			name:    "only one key",
			props:   mapProps{PropType: "s3", PropS3Bucket: "b", PropS3Prefix: "p", PropS3AccessKey: "ak"},
			wantErr: []string{"set both or neither"},
		},
		{
			name:    "bad protocol",
			props:   mapProps{PropType: "s3", PropS3Bucket: "b", PropS3Prefix: "p", PropS3Protocol: "ftp"},
			wantErr: []string{PropS3Protocol, "ftp"},
		},
		{
			name:    "endpoint with a path",
			props:   mapProps{PropType: "s3", PropS3Bucket: "b", PropS3Prefix: "p", PropS3EndpointURL: "http://minio:9000/bucket"},
			wantErr: []string{PropS3EndpointURL, "no path"},
		},
		{
			name:    "unset environment password",
			props:   mapProps{PropType: "s3", PropS3Bucket: "b", PropS3Prefix: "p", PropS3AccessKey: "ak", PropS3SecretKey: `{"type":"environment","variable":"TASKGATE_TEST_UNSET_VAR"}`},
			wantErr: []string{PropS3SecretKey, "TASKGATE_TEST_UNSET_VAR"},
		},
		{
			name:    "unknown password provider",
			props:   mapProps{PropType: "s3", PropS3Bucket: "b", PropS3Prefix: "p", PropS3AccessKey: "ak", PropS3SecretKey: `{"type":"vault"}`},
			wantErr: []string{PropS3SecretKey, "vault"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromProperties(tc.props)
			if len(tc.wantErr) > 0 {
				require.Error(t, err)
				for _, s := range tc.wantErr {
					assert.Contains(t, err.Error(), s)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestS3Endpoint(t *testing.T) {
	cases := []struct {
		endpoint, protocol string
		host               string
		secure             bool
	}{
		{"", "", "s3.amazonaws.com", true},
		{"http://127.0.0.1:9000", "https", "127.0.0.1:9000", false},
		{"minio.local:9000", "http", "minio.local:9000", false},
		{"s3.eu-west-1.amazonaws.com", "", "s3.eu-west-1.amazonaws.com", true},
		{"https://minio.local/", "http", "minio.local", true},
	}
	for _, tc := range cases {
		host, secure, err := S3Config{Endpoint: tc.endpoint, Protocol: tc.protocol}.endpoint()
		require.NoError(t, err, tc.endpoint)
		assert.Equal(t, tc.host, host, tc.endpoint)
		assert.Equal(t, tc.secure, secure, tc.endpoint)
	}
}

func TestNewSelectsStore(t *testing.T) {
	dir := t.TempDir()
	st, err := New(Config{Type: TypeFile, Directory: dir})
	require.NoError(t, err)
	f, ok := st.(*File)
	require.True(t, ok)
	assert.Equal(t, dir, f.Dir())

	st, err = New(Config{Type: TypeS3, S3: S3Config{Bucket: "b", Prefix: "p", Endpoint: "http://127.0.0.1:1", AccessKey: "a", SecretKey: "s"}})
	require.NoError(t, err)
	s3, ok := st.(*S3)
	require.True(t, ok)
	assert.Equal(t, "p/t1/status.json", s3.Key("t1", "status.json"))

	_, err = New(Config{Type: "hdfs"})
	require.ErrorContains(t, err, "not supported")
	_, err = New(Config{})
	require.ErrorContains(t, err, PropType)
}

func TestFileSessionCredentials(t *testing.T) {
	p := filepath.Join(t.TempDir(), "creds.properties")
	require.NoError(t, os.WriteFile(p, []byte("# rotated by a sidecar\naccessKey=AK\nsecretKey = SK\nsessionToken=TOK\n"), 0o600))
	fs := &fileSession{path: p}
	v, err := fs.Retrieve()
	require.NoError(t, err)
	assert.Equal(t, "AK", v.AccessKeyID)
	assert.Equal(t, "SK", v.SecretAccessKey)
	assert.Equal(t, "TOK", v.SessionToken)
	assert.False(t, fs.IsExpired())

	require.NoError(t, os.WriteFile(p, []byte("accessKey=AK\n"), 0o600))
	_, err = fs.Retrieve()
	require.ErrorContains(t, err, "secretKey")

	_, err = NewS3(S3Config{Bucket: "b", FileSessionCredentials: filepath.Join(t.TempDir(), "missing")})
	require.ErrorContains(t, err, PropS3FileSessionCredPath)
}
