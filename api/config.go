package api

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// Defaults for Config. A zero field in Config means "use the default".
const (
	// DefaultListenAddress is where the gateway listens unless told otherwise.
	// 8088 sits next to Druid's Overlord (8090) and Middle Manager (8091)
	// ports without taking either, so a gateway can share a host with both.
	DefaultListenAddress = ":8088"
	// DefaultMaxRequestBodyBytes bounds a task submission. Druid task JSON is
	// usually a few KiB, but index_parallel specs with inline data, long
	// interval lists or big transform specs reach megabytes, and the Overlord
	// itself sets no limit; 32 MiB refuses abuse without refusing real tasks.
	DefaultMaxRequestBodyBytes int64 = 32 << 20
	// DefaultReadHeaderTimeout bounds reading request headers (slowloris).
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds reading a whole request, body included.
	DefaultReadTimeout = 2 * time.Minute
	// DefaultWriteTimeout bounds writing a response. Log streams and long
	// polls lift or extend it for themselves.
	DefaultWriteTimeout = 2 * time.Minute
	// DefaultIdleTimeout is how long a keep-alive connection may sit idle.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultLongPollTimeout is the change feed's wait when the request names
	// no timeout.
	DefaultLongPollTimeout = 30 * time.Second
	// DefaultLongPollMaxTimeout caps the wait a request may ask for.
	DefaultLongPollMaxTimeout = 5 * time.Minute
	// DefaultChangesBufferSize is how many recent runner events the change
	// feed keeps; a client further behind than this gets reset=true.
	DefaultChangesBufferSize = 4096
)

// maxShutdownBodyBytes bounds the optional shutdown body, which only carries
// a reason; task submissions use Config.MaxRequestBodyBytes.
const maxShutdownBodyBytes = 64 << 10

// Config is the front door's static configuration. Zero values take the
// defaults above, so a partially filled Config is valid; negative values are
// not.
type Config struct {
	// ListenAddress is the host:port the HTTP server listens on (default
	// ":8088"; port 0 picks a free port).
	ListenAddress string
	// MaxRequestBodyBytes caps a task submission's body; larger bodies get
	// 413 (default 32 MiB).
	MaxRequestBodyBytes int64
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are
	// net/http.Server's timeouts (defaults 10s, 2m, 2m, 2m). The log stream
	// and the change feed move the write deadline of their own requests, so
	// WriteTimeout stays short without cutting those off.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	// LongPollTimeout is the change feed's wait when a request gives no
	// timeout (default 30s); LongPollMaxTimeout caps the wait a request may
	// ask for (default 5m). Longer requested waits are shortened, not refused.
	LongPollTimeout    time.Duration
	LongPollMaxTimeout time.Duration
	// ChangesBufferSize is how many recent events the change feed keeps
	// (default 4096).
	ChangesBufferSize int
	// TLS, when TLS.CertFile is set, makes the API serve HTTPS
	// (taskgate.api.tls.*; see SecurityFromProperties).
	TLS TLSConfig
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config { return Config{}.WithDefaults() }

// WithDefaults returns c with each zero field replaced by its default.
func (c Config) WithDefaults() Config {
	if c.ListenAddress == "" {
		c.ListenAddress = DefaultListenAddress
	}
	if c.MaxRequestBodyBytes == 0 {
		c.MaxRequestBodyBytes = DefaultMaxRequestBodyBytes
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.LongPollTimeout == 0 {
		c.LongPollTimeout = DefaultLongPollTimeout
	}
	if c.LongPollMaxTimeout == 0 {
		c.LongPollMaxTimeout = DefaultLongPollMaxTimeout
	}
	if c.ChangesBufferSize == 0 {
		c.ChangesBufferSize = DefaultChangesBufferSize
	}
	return c
}

// Validate reports every invalid field, each named, after defaults apply.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("api config: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.ListenAddress != "" {
		if err := validateListenAddress(c.ListenAddress); err != nil {
			bad("ListenAddress", "%v", err)
		}
	}
	if c.MaxRequestBodyBytes < 0 {
		bad("MaxRequestBodyBytes", "must not be negative, got %d", c.MaxRequestBodyBytes)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ReadHeaderTimeout", c.ReadHeaderTimeout},
		{"ReadTimeout", c.ReadTimeout},
		{"WriteTimeout", c.WriteTimeout},
		{"IdleTimeout", c.IdleTimeout},
		{"LongPollTimeout", c.LongPollTimeout},
		{"LongPollMaxTimeout", c.LongPollMaxTimeout},
	} {
		if d.v < 0 {
			bad(d.name, "must not be negative, got %s", d.v)
		}
	}
	if c.ChangesBufferSize < 0 {
		bad("ChangesBufferSize", "must not be negative, got %d", c.ChangesBufferSize)
	}
	if err := c.TLS.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("api config: TLS: %w", err))
	}
	if d := c.WithDefaults(); c.LongPollTimeout >= 0 && c.LongPollMaxTimeout >= 0 && d.LongPollTimeout > d.LongPollMaxTimeout {
		bad("LongPollTimeout", "%s exceeds LongPollMaxTimeout %s", d.LongPollTimeout, d.LongPollMaxTimeout)
	}
	return errors.Join(errs...)
}

func validateListenAddress(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port, got %q", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port must be a number from 0 to 65535, got %q", port)
	}
	return nil
}
