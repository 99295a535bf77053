package tasklogs

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Runtime properties read by ConfigFromProperties, named as Druid names them.
const (
	PropType                   = "druid.indexer.logs.type"
	PropDirectory              = "druid.indexer.logs.directory"
	PropS3Bucket               = "druid.indexer.logs.s3Bucket"
	PropS3Prefix               = "druid.indexer.logs.s3Prefix"
	PropDisableACL             = "druid.indexer.logs.disableAcl"
	PropS3EndpointURL          = "druid.s3.endpoint.url"
	PropS3SigningRegion        = "druid.s3.endpoint.signingRegion"
	PropS3Protocol             = "druid.s3.protocol"
	PropS3PathStyleAccess      = "druid.s3.enablePathStyleAccess"
	PropS3AccessKey            = "druid.s3.accessKey"
	PropS3SecretKey            = "druid.s3.secretKey"
	PropS3FileSessionCredPath  = "druid.s3.fileSessionCredentials"
	defaultDirectory           = "log"
	defaultProtocol            = "https"
	fileSessionRefreshInterval = 5 * 60 // seconds; Druid re-reads the file periodically too
)

// Store types.
const (
	TypeFile = "file"
	TypeS3   = "s3"
)

// Config selects and configures the task log store.
type Config struct {
	// Type is druid.indexer.logs.type: "file" (default) or "s3". Druid's
	// other stores (noop, hdfs, google, azure, switching) are rejected.
	Type string
	// Directory is druid.indexer.logs.directory, the file store's folder.
	// Default "log" (relative to the working directory, as in Druid).
	Directory string
	// S3 configures the s3 store; ignored for "file".
	S3 S3Config
}

// S3Config is the s3 store's bucket and prefix plus the S3 connection
// (Druid's druid.s3.* settings shared with S3 deep storage).
type S3Config struct {
	// Bucket is druid.indexer.logs.s3Bucket. Required.
	Bucket string
	// Prefix is druid.indexer.logs.s3Prefix. Keys are "{Prefix}/{taskId}/log"
	// and so on; an empty prefix gives "/{taskId}/log", as in Druid.
	Prefix string
	// DisableACL is druid.indexer.logs.disableAcl. When false (the default)
	// pushed objects grant the bucket owner full control, as Druid's do.
	DisableACL bool
	// Endpoint is druid.s3.endpoint.url, with or without a scheme
	// ("http://127.0.0.1:9000", "s3.eu-west-1.amazonaws.com"). Empty: AWS
	// (s3.amazonaws.com). A scheme here wins over Protocol.
	Endpoint string
	// Protocol is druid.s3.protocol, "https" (default) or "http", used when
	// Endpoint has no scheme.
	Protocol string
	// Region is druid.s3.endpoint.signingRegion. Empty: asked from the
	// server (GetBucketLocation) on first use.
	Region string
	// PathStyleAccess is druid.s3.enablePathStyleAccess: "host/bucket/key"
	// URLs, which MinIO and most S3-compatible servers need. When false,
	// AWS and a few known clouds get virtual-host URLs and other endpoints
	// still get path-style ones (minio-go's automatic choice).
	PathStyleAccess bool
	// AccessKey and SecretKey are druid.s3.accessKey and druid.s3.secretKey.
	// Both or neither. Neither: FileSessionCredentials if set, else the AWS
	// chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws/credentials,
	// then ECS/EC2/IRSA roles), as Druid's provider chain.
	AccessKey string
	SecretKey string
	// FileSessionCredentials is druid.s3.fileSessionCredentials: a properties
	// file with accessKey, secretKey and sessionToken, re-read every few
	// minutes so rotated keys are picked up.
	FileSessionCredentials string
	// Transport, when set, carries the client's requests (tests, proxies).
	// Not a runtime property.
	Transport http.RoundTripper
}

// DefaultConfig is the file store in "log", Druid's defaults.
func DefaultConfig() Config {
	return Config{Type: TypeFile, Directory: defaultDirectory, S3: S3Config{Protocol: defaultProtocol}}
}

// Validate checks the settings of the selected store.
func (c Config) Validate() error {
	switch c.Type {
	case TypeFile:
		if strings.TrimSpace(c.Directory) == "" {
			return fmt.Errorf("%s: must not be empty for %s=file", PropDirectory, PropType)
		}
		return nil
	case TypeS3:
		return c.S3.Validate()
	case "":
		return fmt.Errorf("%s: must be set (file or s3)", PropType)
	default:
		return unsupportedType(c.Type)
	}
}

func unsupportedType(t string) error {
	return fmt.Errorf("%s=%q is not supported by taskgate: use file or s3 (Druid's noop, hdfs, google, azure and switching stores are not implemented)", PropType, t)
}

// Validate checks the S3 settings.
func (c S3Config) Validate() error {
	var errs []error
	if c.Bucket == "" {
		errs = append(errs, fmt.Errorf("%s: must be set for %s=s3", PropS3Bucket, PropType))
	} else if strings.ContainsAny(c.Bucket, "/ ") {
		errs = append(errs, fmt.Errorf("%s: %q is not a bucket name", PropS3Bucket, c.Bucket))
	}
	switch c.Protocol {
	case "", "http", "https":
	default:
		errs = append(errs, fmt.Errorf("%s: must be http or https, got %q", PropS3Protocol, c.Protocol))
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		errs = append(errs, fmt.Errorf("%s and %s: set both or neither", PropS3AccessKey, PropS3SecretKey))
	}
	if _, _, err := c.endpoint(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// endpoint splits Endpoint into minio-go's host[:port] and TLS flag.
func (c S3Config) endpoint() (string, bool, error) {
	proto := c.Protocol
	if proto == "" {
		proto = defaultProtocol
	}
	ep := strings.TrimSpace(c.Endpoint)
	if ep == "" {
		return "s3.amazonaws.com", true, nil
	}
	if !strings.Contains(ep, "://") {
		ep = proto + "://" + ep
	}
	u, err := url.Parse(ep)
	if err != nil {
		return "", false, fmt.Errorf("%s: %q is not a URL: %w", PropS3EndpointURL, c.Endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", false, fmt.Errorf("%s: scheme must be http or https, got %q", PropS3EndpointURL, u.Scheme)
	}
	if u.Host == "" {
		return "", false, fmt.Errorf("%s: %q has no host", PropS3EndpointURL, c.Endpoint)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		return "", false, fmt.Errorf("%s: %q must be scheme://host[:port] only (no path, query or user)", PropS3EndpointURL, c.Endpoint)
	}
	return u.Host, u.Scheme == "https", nil
}

func (c S3Config) credentials() (*credentials.Credentials, error) {
	switch {
	case c.AccessKey != "":
		return credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""), nil
	case c.FileSessionCredentials != "":
		p := &fileSession{path: c.FileSessionCredentials}
		if _, err := p.Retrieve(); err != nil {
			return nil, err
		}
		return credentials.New(p), nil
	default:
		return credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.FileAWSCredentials{},
			&credentials.IAM{Client: &http.Client{Transport: http.DefaultTransport}},
		}), nil
	}
}

// PropertyGetter is where ConfigFromProperties reads runtime properties.
type PropertyGetter interface {
	Get(key string) (string, bool)
}

// ConfigFromProperties reads the task log settings from Druid runtime
// properties over DefaultConfig and validates them. druid.s3.accessKey and
// druid.s3.secretKey may be plain strings or Druid password providers
// ({"type":"default","password":"..."} or
// {"type":"environment","variable":"NAME"}).
func ConfigFromProperties(p PropertyGetter) (Config, error) {
	c := DefaultConfig()
	var errs []error
	str := func(key string, dst *string) {
		if v, ok := p.Get(key); ok {
			*dst = strings.TrimSpace(v)
		}
	}
	boolean := func(key string, dst *bool) {
		if v, ok := p.Get(key); ok {
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "true":
				*dst = true
			case "false":
				*dst = false
			default:
				errs = append(errs, fmt.Errorf("%s: must be true or false, got %q", key, v))
			}
		}
	}
	password := func(key string, dst *string) {
		v, ok := p.Get(key)
		if !ok {
			return
		}
		s, err := passwordProvider(strings.TrimSpace(v))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
			return
		}
		*dst = s
	}

	str(PropType, &c.Type)
	str(PropDirectory, &c.Directory)
	str(PropS3Bucket, &c.S3.Bucket)
	str(PropS3Prefix, &c.S3.Prefix)
	boolean(PropDisableACL, &c.S3.DisableACL)
	str(PropS3EndpointURL, &c.S3.Endpoint)
	str(PropS3SigningRegion, &c.S3.Region)
	str(PropS3Protocol, &c.S3.Protocol)
	boolean(PropS3PathStyleAccess, &c.S3.PathStyleAccess)
	password(PropS3AccessKey, &c.S3.AccessKey)
	password(PropS3SecretKey, &c.S3.SecretKey)
	str(PropS3FileSessionCredPath, &c.S3.FileSessionCredentials)
	c.S3.Protocol = strings.ToLower(c.S3.Protocol)
	if c.Type == TypeS3 {
		if _, ok := p.Get(PropS3Prefix); !ok {
			// Druid's S3TaskLogsConfig has @NotNull on s3Prefix; an empty value
			// is allowed, a missing one is not.
			errs = append(errs, fmt.Errorf("%s: must be set for %s=s3", PropS3Prefix, PropType))
		}
	}
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// passwordProvider resolves Druid's PasswordProvider forms: a plain string,
// or JSON {"type":"default","password":...} / {"type":"environment","variable":...}.
func passwordProvider(v string) (string, error) {
	if !strings.HasPrefix(v, "{") {
		return v, nil
	}
	var pp struct {
		Type     string `json:"type"`
		Password string `json:"password"`
		Variable string `json:"variable"`
	}
	if err := json.Unmarshal([]byte(v), &pp); err != nil {
		return "", fmt.Errorf("password provider is not valid JSON: %w", err)
	}
	switch pp.Type {
	case "default", "":
		return pp.Password, nil
	case "environment":
		if pp.Variable == "" {
			return "", errors.New(`password provider of type "environment" needs "variable"`)
		}
		s, ok := os.LookupEnv(pp.Variable)
		if !ok {
			return "", fmt.Errorf("password provider: environment variable %s is not set", pp.Variable)
		}
		return s, nil
	default:
		return "", fmt.Errorf("password provider type %q is not supported (default, environment)", pp.Type)
	}
}

// New returns the store cfg selects, after validating cfg.
func New(cfg Config) (Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch cfg.Type {
	case TypeFile:
		return NewFile(cfg.Directory)
	case TypeS3:
		return NewS3(cfg.S3)
	default:
		return nil, unsupportedType(cfg.Type)
	}
}
