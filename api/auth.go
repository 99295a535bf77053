package api

// Access control in Druid's terms. Authentication says who sent a request
// (HTTP Basic users or static bearer tokens from a file); authorisation
// checks a permission — a resource (type + name) and an action — against the
// caller's roles, the way Druid's basic-security extension does. Each route
// declares what it needs; see routeAccess and docs/security.md.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/gorilla/mux"
	"golang.org/x/crypto/bcrypt"
	"sigs.k8s.io/yaml"

	"github.com/taskgate/taskgate/task"
)

// ResourceType is a Druid resource type (org.apache.druid.server.security.ResourceType).
type ResourceType string

// Druid's resource types. taskgate checks DATASOURCE, CONFIG and STATE;
// EXTERNAL and SYSTEM_TABLE are accepted in role files so Druid permission
// lists can be copied unchanged.
const (
	ResourceDatasource  ResourceType = "DATASOURCE"
	ResourceConfig      ResourceType = "CONFIG"
	ResourceState       ResourceType = "STATE"
	ResourceExternal    ResourceType = "EXTERNAL"
	ResourceSystemTable ResourceType = "SYSTEM_TABLE"
)

// Action is a Druid action. WRITE does not imply READ, as in Druid.
type Action string

// Druid's actions.
const (
	ActionRead  Action = "READ"
	ActionWrite Action = "WRITE"
)

// Resource is something a permission covers: a type and a name.
type Resource struct {
	Type ResourceType `json:"type"`
	Name string       `json:"name"`
}

func (r Resource) String() string { return fmt.Sprintf("%s %q", r.Type, r.Name) }

// The fixed resources Druid's ConfigResourceFilter and StateResourceFilter
// check: the name is the type.
var (
	ConfigResource = Resource{Type: ResourceConfig, Name: "CONFIG"}
	StateResource  = Resource{Type: ResourceState, Name: "STATE"}
)

// DatasourceResource is the DATASOURCE resource of a datasource. A task
// without a datasource maps to the name "", which only patterns that match
// the empty string (such as ".*") grant.
func DatasourceResource(name string) Resource {
	return Resource{Type: ResourceDatasource, Name: name}
}

// ActionForMethod is Druid's AbstractResourceFilter rule: GET and HEAD read,
// every other method writes.
func ActionForMethod(method string) Action {
	if method == http.MethodGet || method == http.MethodHead {
		return ActionRead
	}
	return ActionWrite
}

// Identity is an authenticated caller.
type Identity struct {
	// Name is the user or token name from the auth file.
	Name string
	// Method is how it authenticated: "basic" or "bearer".
	Method string
}

// Authentication and authorisation outcomes. Authenticators and Authorizers
// wrap them so the server can pick 401 or 403.
var (
	// ErrNoCredentials: the request carries no credentials (401).
	ErrNoCredentials = errors.New("authentication required")
	// ErrBadCredentials: the credentials are wrong, unknown or of an
	// unsupported scheme (401).
	ErrBadCredentials = errors.New("invalid credentials")
	// ErrForbidden: the caller is known but lacks the permission (403).
	ErrForbidden = errors.New("forbidden")
)

// Authenticator finds who sent a request.
type Authenticator interface {
	// Authenticate returns the caller, or an error wrapping ErrNoCredentials
	// or ErrBadCredentials.
	Authenticate(r *http.Request) (Identity, error)
	// Challenges are the WWW-Authenticate values sent with a 401.
	Challenges() []string
}

// Authorizer decides whether the caller of r (see IdentityFromRequest) may
// do action on resource: nil when allowed, else an error wrapping
// ErrForbidden (or ErrNoCredentials when r has no identity).
type Authorizer interface {
	Authorize(r *http.Request, resource Resource, action Action) error
}

// WithAuth turns on access control: every route except /status/health,
// /status/ready and unsecuredPaths (exact request paths) needs credentials
// authn accepts, and the permission its route declares, checked by authz.
// Without this option the server is open (local runs).
func WithAuth(authn Authenticator, authz Authorizer, unsecuredPaths ...string) Option {
	return func(o *options) {
		o.authn, o.authz = authn, authz
		o.unsecured = append(o.unsecured, unsecuredPaths...)
	}
}

// WithResourceRoutes registers routes like WithRoutes, guarded the way
// Druid's ConfigResourceFilter and StateResourceFilter guard a resource
// class: each route needs res, READ for GET/HEAD and WRITE otherwise. Use it
// for dynconfig's execution config endpoints:
//
//	api.WithResourceRoutes(api.ConfigResource, handlers.Register)
//
// Routes added with plain WithRoutes need STATE (same method rule) when
// access control is on.
func WithResourceRoutes(res Resource, register func(r *mux.Router)) Option {
	return declareRoutes(register, routeAccess{kind: accessResource, res: res})
}

// WithAuthorizedRoutes registers routes like WithRoutes, each authorised by
// resolve, a function of the request (its path variables are set), for
// routes whose resource depends on the request. An error from resolve that
// is not an authorisation error is a 400 with its message.
func WithAuthorizedRoutes(register func(r *mux.Router), resolve func(r *http.Request) (Resource, Action, error)) Option {
	return declareRoutes(register, routeAccess{kind: accessResolve, resolve: resolve})
}

// declareRoutes runs register and gives every route it adds acc.
func declareRoutes(register func(r *mux.Router), acc routeAccess) Option {
	return func(o *options) {
		o.routes = append(o.routes, func(r *mux.Router) {
			before := map[*mux.Route]bool{}
			_ = r.Walk(func(rt *mux.Route, _ *mux.Router, _ []*mux.Route) error {
				before[rt] = true
				return nil
			})
			register(r)
			_ = r.Walk(func(rt *mux.Route, _ *mux.Router, _ []*mux.Route) error {
				if !before[rt] {
					if o.declared == nil {
						o.declared = map[*mux.Route]routeAccess{}
					}
					o.declared[rt] = acc
				}
				return nil
			})
		})
	}
}

// Authorize checks a permission for r from any handler behind the server,
// for handlers that learn the resource only from the body (as the task
// submit does): nil when allowed, when access control is off, or on an
// unsecured route; else an error wrapping ErrForbidden. Reply 403 for it.
func Authorize(r *http.Request, res Resource, act Action) error {
	authz, ok := r.Context().Value(authorizerKey{}).(Authorizer)
	if !ok {
		return nil
	}
	return authz.Authorize(r, res, act)
}

type (
	identityKey   struct{}
	authorizerKey struct{}
)

// IdentityFromRequest returns the caller authenticated for r, if any.
func IdentityFromRequest(r *http.Request) (Identity, bool) {
	id, ok := r.Context().Value(identityKey{}).(Identity)
	return id, ok
}

// IdentityName returns the name of r's authenticated caller, "" when there
// is none; it fits dynconfig.WithIdentity, which records it in audit entries.
func IdentityName(r *http.Request) string {
	id, _ := IdentityFromRequest(r)
	return id.Name
}

// accessKind is how a route is authorised.
type accessKind int

const (
	// accessResource: res with ActionForMethod.
	accessResource accessKind = iota
	// accessPublic: no authentication.
	accessPublic
	// accessTask: DATASOURCE of the task named by {id}, ActionForMethod;
	// STATE with that action for tasks the runner does not know.
	accessTask
	// accessHandler: authenticated here, authorised by the handler once it
	// knows the resource (submit: the datasource is in the body; listings:
	// filtered per item).
	accessHandler
	// accessResolve: resolve(r) names the resource and action.
	accessResolve
)

type routeAccess struct {
	kind    accessKind
	res     Resource
	resolve func(*http.Request) (Resource, Action, error)
}

// nativeAccess declares the native routes by route name, after Druid's
// OverlordResource and StatusResource.
var nativeAccess = map[string]routeAccess{
	"submitTask":      {kind: accessHandler},
	"getTaskStatus":   {kind: accessTask},
	"getTaskLocation": {kind: accessTask},
	"getTaskLog":      {kind: accessTask},
	"shutdownTask":    {kind: accessTask},
	"listTasks":       {kind: accessHandler},
	"getCapacity":     {kind: accessResource, res: StateResource},
	"getChanges":      {kind: accessResource, res: StateResource},
	"getStatus":       {kind: accessResource, res: StateResource},
	"getHealth":       {kind: accessPublic},
	"getReady":        {kind: accessPublic},
}

// authState is the server's access control; nil when off.
type authState struct {
	authn     Authenticator
	authz     Authorizer
	unsecured map[string]bool
	routes    map[*mux.Route]routeAccess
}

// setupAuth records every route's access and installs the middleware. It
// runs after all routes are registered.
func (s *Server) setupAuth(o *options) error {
	if o.authn == nil && o.authz == nil {
		return nil
	}
	if o.authn == nil || o.authz == nil {
		return errors.New("api: WithAuth needs both an Authenticator and an Authorizer")
	}
	a := &authState{authn: o.authn, authz: o.authz, unsecured: map[string]bool{}, routes: map[*mux.Route]routeAccess{}}
	for _, p := range o.unsecured {
		a.unsecured[p] = true
	}
	_ = s.router.Walk(func(rt *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		acc, ok := o.declared[rt]
		if !ok {
			acc, ok = nativeAccess[rt.GetName()]
		}
		if !ok {
			acc = routeAccess{kind: accessResource, res: StateResource}
		}
		a.routes[rt] = acc
		return nil
	})
	s.auth = a
	s.router.Use(s.accessControl)
	return nil
}

// accessControl authenticates and, for routes whose resource is known from
// the request line, authorises before the handler runs.
func (s *Server) accessControl(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acc := routeAccess{kind: accessResource, res: StateResource}
		if rt := mux.CurrentRoute(r); rt != nil {
			if a, ok := s.auth.routes[rt]; ok {
				acc = a
			}
		}
		if acc.kind == accessPublic || s.auth.unsecured[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		id, err := s.auth.authn.Authenticate(r)
		if err != nil {
			s.writeAuthError(w, r, err)
			return
		}
		ctx := context.WithValue(r.Context(), identityKey{}, id)
		r = r.WithContext(context.WithValue(ctx, authorizerKey{}, s.auth.authz))
		act := ActionForMethod(r.Method)
		switch acc.kind {
		case accessResolve:
			res, act, err := acc.resolve(r)
			if err != nil {
				writeError(w, http.StatusBadRequest, err.Error(), "")
				return
			}
			if !s.authorize(w, r, res, act) {
				return
			}
		case accessResource:
			if !s.authorize(w, r, acc.res, act) {
				return
			}
		case accessTask:
			id := mux.Vars(r)["id"]
			// A malformed id gets the handler's 400; it names no task.
			if task.ValidateID(id) == nil && !s.authorizeTask(w, r, id, act) {
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// authorizeTask checks act on the datasource of task id. Druid reads the
// datasource from its task table; taskgate asks the runner. A task the
// runner does not know (never seen, or forgotten — its log may still be in
// deep storage) has no datasource to check, so it needs STATE: operators
// may act on it, and others get the same 403 as for a known task they may
// not see, so ids cannot be probed.
func (s *Server) authorizeTask(w http.ResponseWriter, r *http.Request, id string, act Action) bool {
	res := StateResource
	if wi, ok := s.runner.Get(id); ok {
		res = DatasourceResource(wi.DataSource)
	}
	err := s.auth.authz.Authorize(r, res, act)
	if err == nil {
		return true
	}
	if errors.Is(err, ErrForbidden) {
		// One message for both cases, naming neither the datasource nor
		// whether the task exists.
		err = fmt.Errorf("%w: %s may not %s task %q", ErrForbidden, IdentityName(r), act, id)
	}
	s.writeAuthError(w, r, err)
	return false
}

// authorize checks a permission for r and writes the 401/403/500 when it
// is refused. With access control off it allows everything.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, res Resource, act Action) bool {
	if s.auth == nil {
		return true
	}
	err := s.auth.authz.Authorize(r, res, act)
	if err == nil {
		return true
	}
	s.writeAuthError(w, r, err)
	return false
}

// allowed reports whether r's caller may do act on res, writing nothing
// (for filtering listings).
func (s *Server) allowed(r *http.Request, res Resource, act Action) bool {
	return s.auth == nil || s.auth.authz.Authorize(r, res, act) == nil
}

func (s *Server) writeAuthError(w http.ResponseWriter, r *http.Request, err error) {
	writeAuthFailure(w, r, s.auth.authn, s.log, err)
}

// RequireResource guards a handler served outside the Server (the Middle
// Manager API of package workerapi, on its own listener) the way the
// Server guards its routes: credentials authn accepts, then res with READ
// for GET/HEAD and WRITE otherwise; 401 with challenges or 403 otherwise.
func RequireResource(authn Authenticator, authz Authorizer, res Resource, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := authn.Authenticate(r)
		if err == nil {
			r = r.WithContext(context.WithValue(r.Context(), identityKey{}, id))
			err = authz.Authorize(r, res, ActionForMethod(r.Method))
		}
		if err != nil {
			writeAuthFailure(w, r, authn, log, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeAuthFailure(w http.ResponseWriter, r *http.Request, authn Authenticator, log *slog.Logger, err error) {
	switch {
	case errors.Is(err, ErrNoCredentials), errors.Is(err, ErrBadCredentials):
		for _, c := range authn.Challenges() {
			w.Header().Add("WWW-Authenticate", c)
		}
		if errors.Is(err, ErrBadCredentials) {
			log.InfoContext(r.Context(), "authentication failed", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", err.Error())
			// The reason (unknown user or wrong password) stays in the log.
			writeError(w, http.StatusUnauthorized, ErrBadCredentials.Error(), "")
			return
		}
		writeError(w, http.StatusUnauthorized, ErrNoCredentials.Error(), "")
	case errors.Is(err, ErrForbidden):
		writeError(w, http.StatusForbidden, err.Error(), "")
	default:
		log.ErrorContext(r.Context(), "authorization failed", "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, "authorization: "+err.Error(), "")
	}
}

// --- properties ----------------------------------------------------------

// Property names of access control and TLS.
const (
	PropAuthEnabled        = "taskgate.auth.enabled"
	PropAuthFile           = "taskgate.auth.file"
	PropAuthRealm          = "taskgate.auth.realm"
	PropAuthUnsecuredPaths = "taskgate.auth.unsecuredPaths"
	PropTLSCertFile        = "taskgate.api.tls.certFile"
	PropTLSKeyFile         = "taskgate.api.tls.keyFile"
	PropTLSClientCAFile    = "taskgate.api.tls.clientCAFile"
	PropTLSClientAuth      = "taskgate.api.tls.clientAuth"
)

// DefaultRealm is the realm of WWW-Authenticate challenges.
const DefaultRealm = "taskgate"

// Client certificate policies for TLSConfig.ClientAuth.
const (
	ClientAuthNone          = "none"
	ClientAuthRequest       = "request"
	ClientAuthVerifyIfGiven = "verifyIfGiven"
	ClientAuthRequire       = "require"
)

// PropertyGetter is where SecurityFromProperties reads runtime properties
// (*config.Properties provides it).
type PropertyGetter interface {
	Get(key string) (string, bool)
}

// AuthConfig configures access control.
type AuthConfig struct {
	// Enabled is taskgate.auth.enabled (default false: the API is open).
	Enabled bool
	// File is taskgate.auth.file: the YAML or JSON file of roles, users
	// and tokens (see AuthFile). Required when Enabled.
	File string
	// Realm is taskgate.auth.realm, the challenge realm (default "taskgate").
	Realm string
	// UnsecuredPaths is taskgate.auth.unsecuredPaths, a JSON array of exact
	// request paths served without authentication, like Druid's
	// druid.auth.unsecuredPaths (e.g. ["/metrics"] for a scraper).
	// /status/health and /status/ready are always open.
	UnsecuredPaths []string
}

// Validate names the property at fault.
func (c AuthConfig) Validate() error {
	var errs []error
	if c.Enabled && strings.TrimSpace(c.File) == "" {
		errs = append(errs, fmt.Errorf("%s: is required when %s=true", PropAuthFile, PropAuthEnabled))
	}
	for i, p := range c.UnsecuredPaths {
		if !strings.HasPrefix(p, "/") {
			errs = append(errs, fmt.Errorf("%s[%d]: must be a path starting with '/', got %q", PropAuthUnsecuredPaths, i, p))
		}
	}
	if strings.ContainsAny(c.Realm, "\"\\\r\n") {
		errs = append(errs, fmt.Errorf("%s: must not contain quotes, backslashes or line breaks, got %q", PropAuthRealm, c.Realm))
	}
	return errors.Join(errs...)
}

// AuthOption loads c.File and returns the WithAuth option for it; when
// access control is off it returns an option that changes nothing.
func AuthOption(c AuthConfig) (Option, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if !c.Enabled {
		return func(*options) {}, nil
	}
	fa, err := LoadAuthFile(c.File, c.Realm)
	if err != nil {
		return nil, err
	}
	return WithAuth(fa, fa, c.UnsecuredPaths...), nil
}

// TLSConfig configures HTTPS for the API. Empty CertFile means plain HTTP.
type TLSConfig struct {
	// CertFile and KeyFile are taskgate.api.tls.certFile / keyFile: the
	// server certificate chain and its key, PEM. Both or neither.
	CertFile string
	KeyFile  string
	// ClientCAFile is taskgate.api.tls.clientCAFile: PEM CA certificates
	// that client certificates are verified against.
	ClientCAFile string
	// ClientAuth is taskgate.api.tls.clientAuth: none, request,
	// verifyIfGiven or require (default require with a ClientCAFile, else
	// none).
	ClientAuth string
}

// Enabled reports whether the API serves HTTPS.
func (c TLSConfig) Enabled() bool { return c.CertFile != "" }

func (c TLSConfig) clientAuth() string {
	if c.ClientAuth != "" {
		return c.ClientAuth
	}
	if c.ClientCAFile != "" {
		return ClientAuthRequire
	}
	return ClientAuthNone
}

// Validate names the property at fault.
func (c TLSConfig) Validate() error {
	var errs []error
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, fmt.Errorf("%s and %s: set both or neither (certFile=%q keyFile=%q)", PropTLSCertFile, PropTLSKeyFile, c.CertFile, c.KeyFile))
	}
	if c.CertFile == "" && (c.ClientCAFile != "" || c.ClientAuth != "") {
		errs = append(errs, fmt.Errorf("%s/%s: need TLS, but %s is not set", PropTLSClientCAFile, PropTLSClientAuth, PropTLSCertFile))
	}
	switch ca := c.clientAuth(); ca {
	case ClientAuthNone, ClientAuthRequest:
	case ClientAuthVerifyIfGiven, ClientAuthRequire:
		if c.ClientCAFile == "" {
			errs = append(errs, fmt.Errorf("%s: %s needs %s to verify client certificates against", PropTLSClientAuth, ca, PropTLSClientCAFile))
		}
	default:
		errs = append(errs, fmt.Errorf("%s: must be one of none, request, verifyIfGiven, require; got %q", PropTLSClientAuth, ca))
	}
	return errors.Join(errs...)
}

// ServerConfig loads the certificate, key and client CAs. It returns nil
// when TLS is off.
func (c TLSConfig) ServerConfig() (*tls.Config, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if !c.Enabled() {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: load server certificate: %w", PropTLSCertFile, PropTLSKeyFile, err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", PropTLSClientCAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: %s holds no PEM certificate", PropTLSClientCAFile, c.ClientCAFile)
		}
		tc.ClientCAs = pool
	}
	switch c.clientAuth() {
	case ClientAuthRequest:
		tc.ClientAuth = tls.RequestClientCert
	case ClientAuthVerifyIfGiven:
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	case ClientAuthRequire:
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// SecurityFromProperties reads the taskgate.auth.* and taskgate.api.tls.*
// properties, validated.
func SecurityFromProperties(p PropertyGetter) (AuthConfig, TLSConfig, error) {
	var (
		ac   = AuthConfig{Realm: DefaultRealm}
		tc   TLSConfig
		errs []error
	)
	str := func(key string) string {
		v, _ := p.Get(key)
		return strings.TrimSpace(v)
	}
	if v, ok := p.Get(PropAuthEnabled); ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true":
			ac.Enabled = true
		case "false":
		default:
			errs = append(errs, fmt.Errorf("%s: must be true or false, got %q", PropAuthEnabled, v))
		}
	}
	ac.File = str(PropAuthFile)
	if v := str(PropAuthRealm); v != "" {
		ac.Realm = v
	}
	if v := str(PropAuthUnsecuredPaths); v != "" {
		if err := json.Unmarshal([]byte(v), &ac.UnsecuredPaths); err != nil {
			errs = append(errs, fmt.Errorf("%s: must be a JSON array of paths such as [\"/metrics\"], got %q", PropAuthUnsecuredPaths, v))
		}
	}
	tc.CertFile = str(PropTLSCertFile)
	tc.KeyFile = str(PropTLSKeyFile)
	tc.ClientCAFile = str(PropTLSClientCAFile)
	tc.ClientAuth = str(PropTLSClientAuth)
	if err := errors.Join(errs...); err != nil {
		return ac, tc, err
	}
	return ac, tc, errors.Join(ac.Validate(), tc.Validate())
}

// --- the auth file -------------------------------------------------------

// AuthFile is the access control file (YAML or JSON). Permissions use
// Druid's JSON, so a role's list from Druid's basic authorizer API can be
// pasted in:
//
//	roles:
//	  ingest-wiki:
//	    - {resource: {type: DATASOURCE, name: "wiki.*"}, action: WRITE}
//	    - {resource: {type: DATASOURCE, name: "wiki.*"}, action: READ}
//	users:
//	  alice: {passwordHash: "$2a$10$...", roles: [ingest-wiki]}
//	tokens:
//	  ci-bot: {sha256: "<hex SHA-256 of the token>", roles: [ingest-wiki]}
//
// Resource names are regular expressions that must match the whole name,
// as Druid's basic authorizer does (Go RE2 syntax: no look-around or
// back-references).
type AuthFile struct {
	Roles  map[string][]Permission `json:"roles"`
	Users  map[string]UserEntry    `json:"users"`
	Tokens map[string]TokenEntry   `json:"tokens"`
}

// Permission is Druid's ResourceAction.
type Permission struct {
	Resource Resource `json:"resource"`
	Action   Action   `json:"action"`
}

// UserEntry is an HTTP Basic user.
type UserEntry struct {
	// PasswordHash is a bcrypt hash ($2a$, $2b$ or $2y$), e.g. from
	// `htpasswd -nbBC 10 "" password | tr -d ':\n'`.
	PasswordHash string   `json:"passwordHash"`
	Roles        []string `json:"roles"`
}

// TokenEntry is a static bearer token, stored as the hex SHA-256 of the
// token (`printf %s "$TOKEN" | sha256sum`), so the file holds no secret.
type TokenEntry struct {
	SHA256 string   `json:"sha256"`
	Roles  []string `json:"roles"`
}

// FileAuth authenticates and authorises from an AuthFile. It implements
// Authenticator and Authorizer and is safe for concurrent use.
type FileAuth struct {
	realm  string
	users  map[string]*fileUser
	tokens map[[sha256.Size]byte]string // token hash → name
	perms  map[string][]compiledPermission
	// bcrypt is slow on purpose; verified caches the SHA-256 of each user's
	// last good password so a client sending Basic on every request pays it
	// once, and sem bounds concurrent bcrypt work so wrong passwords cannot
	// take every core.
	mu       sync.Mutex
	verified map[string][sha256.Size]byte
	sem      chan struct{}
}

type fileUser struct {
	hash []byte
}

type compiledPermission struct {
	typ    ResourceType
	name   *regexp.Regexp
	action Action
}

var knownResourceTypes = map[ResourceType]bool{
	ResourceDatasource: true, ResourceConfig: true, ResourceState: true, ResourceExternal: true, ResourceSystemTable: true,
}

// LoadAuthFile reads and checks the auth file at path.
func LoadAuthFile(path, realm string) (*FileAuth, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", PropAuthFile, err)
	}
	fa, err := ParseAuthFile(data, realm)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", PropAuthFile, path, err)
	}
	return fa, nil
}

// ParseAuthFile parses an auth file (YAML or JSON), refusing unknown fields,
// and checks every hash, regex and role reference, naming the field at fault.
func ParseAuthFile(data []byte, realm string) (*FileAuth, error) {
	var f AuthFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if realm == "" {
		realm = DefaultRealm
	}
	fa := &FileAuth{
		realm:    realm,
		users:    map[string]*fileUser{},
		tokens:   map[[sha256.Size]byte]string{},
		perms:    map[string][]compiledPermission{},
		verified: map[string][sha256.Size]byte{},
		sem:      make(chan struct{}, runtime.GOMAXPROCS(0)),
	}
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	roles := map[string][]compiledPermission{}
	for _, name := range sortedMapKeys(f.Roles) {
		var list []compiledPermission
		for i, p := range f.Roles[name] {
			field := fmt.Sprintf("roles.%s[%d]", name, i)
			if !knownResourceTypes[p.Resource.Type] {
				bad(field+".resource.type", "must be one of DATASOURCE, CONFIG, STATE, EXTERNAL, SYSTEM_TABLE; got %q", p.Resource.Type)
				continue
			}
			if p.Action != ActionRead && p.Action != ActionWrite {
				bad(field+".action", "must be READ or WRITE, got %q", p.Action)
				continue
			}
			// Java's Matcher.matches(): the whole name must match.
			re, err := regexp.Compile(`^(?:` + p.Resource.Name + `)$`)
			if err != nil {
				bad(field+".resource.name", "regex %q does not compile: %v", p.Resource.Name, err)
				continue
			}
			list = append(list, compiledPermission{typ: p.Resource.Type, name: re, action: p.Action})
		}
		roles[name] = list
	}
	grant := func(field, who string, roleNames []string) {
		var perms []compiledPermission
		for i, rn := range roleNames {
			rp, ok := roles[rn]
			if !ok {
				bad(fmt.Sprintf("%s.roles[%d]", field, i), "unknown role %q (defined: %s)", rn, strings.Join(sortedMapKeys(f.Roles), ", "))
				continue
			}
			perms = append(perms, rp...)
		}
		fa.perms[who] = perms
	}
	for _, name := range sortedMapKeys(f.Users) {
		u := f.Users[name]
		field := "users." + name
		if strings.Contains(name, ":") || name == "" {
			bad(field, "user names must be non-empty and must not contain ':' (HTTP Basic splits on it)")
			continue
		}
		if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
			bad(field+".passwordHash", "not a bcrypt hash: %v", err)
			continue
		}
		fa.users[name] = &fileUser{hash: []byte(u.PasswordHash)}
		grant(field, name, u.Roles)
	}
	for _, name := range sortedMapKeys(f.Tokens) {
		tok := f.Tokens[name]
		field := "tokens." + name
		if _, dup := f.Users[name]; dup {
			bad(field, "name is also a user's; identities must be unique")
			continue
		}
		raw, err := hex.DecodeString(strings.TrimSpace(tok.SHA256))
		if err != nil || len(raw) != sha256.Size {
			bad(field+".sha256", "must be 64 hex digits (the SHA-256 of the token), got %d characters", len(tok.SHA256))
			continue
		}
		var h [sha256.Size]byte
		copy(h[:], raw)
		if other, dup := fa.tokens[h]; dup {
			bad(field+".sha256", "same token as tokens.%s", other)
			continue
		}
		fa.tokens[h] = name
		grant(field, name, tok.Roles)
	}
	if len(errs) == 0 && len(fa.users) == 0 && len(fa.tokens) == 0 {
		errs = append(errs, errors.New("defines no users and no tokens, so nobody could call the API"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return fa, nil
}

// Challenges implements Authenticator.
func (fa *FileAuth) Challenges() []string {
	var out []string
	if len(fa.users) > 0 {
		out = append(out, fmt.Sprintf(`Basic realm=%q, charset="UTF-8"`, fa.realm))
	}
	if len(fa.tokens) > 0 {
		out = append(out, fmt.Sprintf(`Bearer realm=%q`, fa.realm))
	}
	return out
}

// Authenticate implements Authenticator: HTTP Basic against the users,
// Bearer against the tokens.
func (fa *FileAuth) Authenticate(r *http.Request) (Identity, error) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return Identity{}, ErrNoCredentials
	}
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	switch strings.ToLower(scheme) {
	case "basic":
		user, pass, ok := r.BasicAuth()
		if !ok {
			return Identity{}, fmt.Errorf("%w: malformed Basic credentials", ErrBadCredentials)
		}
		if err := fa.checkPassword(r.Context(), user, pass); err != nil {
			return Identity{}, err
		}
		return Identity{Name: user, Method: "basic"}, nil
	case "bearer":
		if cred == "" {
			return Identity{}, fmt.Errorf("%w: empty bearer token", ErrBadCredentials)
		}
		if name, ok := fa.tokens[sha256.Sum256([]byte(cred))]; ok {
			return Identity{Name: name, Method: "bearer"}, nil
		}
		return Identity{}, fmt.Errorf("%w: unknown bearer token", ErrBadCredentials)
	}
	return Identity{}, fmt.Errorf("%w: unsupported authorization scheme %q (use Basic or Bearer)", ErrBadCredentials, scheme)
}

var (
	dummyHashOnce sync.Once
	dummyHash     []byte
)

func (fa *FileAuth) checkPassword(ctx context.Context, user, pass string) error {
	sum := sha256.Sum256([]byte(pass))
	u, ok := fa.users[user]
	if ok {
		fa.mu.Lock()
		last, seen := fa.verified[user]
		fa.mu.Unlock()
		if seen && subtle.ConstantTimeCompare(last[:], sum[:]) == 1 {
			return nil
		}
	}
	select {
	case fa.sem <- struct{}{}:
		defer func() { <-fa.sem }()
	case <-ctx.Done():
		return fmt.Errorf("%w: request ended while waiting to check the password: %v", ErrBadCredentials, ctx.Err())
	}
	if !ok {
		// Spend the same time as for a known user, so timing does not
		// tell which user names exist.
		dummyHashOnce.Do(func() {
			b := make([]byte, 16)
			_, _ = rand.Read(b)
			dummyHash, _ = bcrypt.GenerateFromPassword(b, bcrypt.DefaultCost)
		})
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(pass))
		return fmt.Errorf("%w: unknown user %q", ErrBadCredentials, user)
	}
	if err := bcrypt.CompareHashAndPassword(u.hash, []byte(pass)); err != nil {
		return fmt.Errorf("%w: wrong password for user %q", ErrBadCredentials, user)
	}
	fa.mu.Lock()
	fa.verified[user] = sum
	fa.mu.Unlock()
	return nil
}

// Authorize implements Authorizer with Druid's basic authorizer rule: some
// permission of one of the caller's roles has the action, the resource type
// and a name pattern matching the whole resource name.
func (fa *FileAuth) Authorize(r *http.Request, res Resource, act Action) error {
	id, ok := IdentityFromRequest(r)
	if !ok {
		return ErrNoCredentials
	}
	if fa.Allowed(id.Name, res, act) {
		return nil
	}
	return fmt.Errorf("%w: %s may not %s %s", ErrForbidden, id.Name, act, res)
}

// Allowed reports whether identity name holds act on res.
func (fa *FileAuth) Allowed(name string, res Resource, act Action) bool {
	for _, p := range fa.perms[name] {
		if p.action == act && p.typ == res.Type && p.name.MatchString(res.Name) {
			return true
		}
	}
	return false
}

func sortedMapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
