package tasklogs

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7/pkg/credentials"
)

// fileSession is Druid's FileSessionCredentialsProvider: a properties file
// holding accessKey, secretKey and sessionToken that an outside process
// rotates. It is re-read when the cached value is older than the refresh
// interval.
type fileSession struct {
	credentials.Expiry
	path string
}

func (f *fileSession) RetrieveWithCredContext(*credentials.CredContext) (credentials.Value, error) {
	return f.Retrieve()
}

func (f *fileSession) Retrieve() (credentials.Value, error) {
	b, err := os.ReadFile(f.path)
	if err != nil {
		return credentials.Value{}, fmt.Errorf("%s: %w", PropS3FileSessionCredPath, err)
	}
	kv := parseSimpleProperties(b)
	v := credentials.Value{
		AccessKeyID:     kv["accessKey"],
		SecretAccessKey: kv["secretKey"],
		SessionToken:    kv["sessionToken"],
		SignerType:      credentials.SignatureV4,
	}
	if v.AccessKeyID == "" || v.SecretAccessKey == "" {
		return credentials.Value{}, fmt.Errorf("%s: %s must set accessKey and secretKey", PropS3FileSessionCredPath, f.path)
	}
	f.SetExpiration(time.Now().Add(fileSessionRefreshInterval*time.Second), 0)
	return v, nil
}

// parseSimpleProperties reads "key=value" (or "key: value") lines, skipping
// blanks and # or ! comments: all a credentials file uses of the format.
func parseSimpleProperties(b []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			continue
		}
		out[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	return out
}
