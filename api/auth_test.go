package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/taskgate/taskgate/dynconfig"
	"github.com/taskgate/taskgate/routing"
)

const ciToken = "s3cret-ci-token"

func bcryptHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	require.NoError(t, err)
	return string(h)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// testAuthFile has one user per permission class. Passwords are the user
// name + "-pw".
func testAuthFile(t *testing.T) []byte {
	t.Helper()
	user := func(name string, roles ...string) string {
		r, _ := json.Marshal(roles)
		return fmt.Sprintf("  %s: {passwordHash: %q, roles: %s}\n", name, bcryptHash(t, name+"-pw"), r)
	}
	return []byte(`roles:
  admin:
    - {resource: {type: DATASOURCE, name: ".*"}, action: READ}
    - {resource: {type: DATASOURCE, name: ".*"}, action: WRITE}
    - {resource: {type: STATE, name: STATE}, action: READ}
    - {resource: {type: STATE, name: STATE}, action: WRITE}
    - {resource: {type: CONFIG, name: CONFIG}, action: READ}
    - {resource: {type: CONFIG, name: CONFIG}, action: WRITE}
  wiki-rw:
    - {resource: {type: DATASOURCE, name: "wiki.*"}, action: READ}
    - {resource: {type: DATASOURCE, name: "wiki.*"}, action: WRITE}
  wiki-ro:
    - {resource: {type: DATASOURCE, name: wiki}, action: READ}
  state-ro:
    - {resource: {type: STATE, name: STATE}, action: READ}
  config-ro:
    - {resource: {type: CONFIG, name: CONFIG}, action: READ}
  empty: []
users:
` + user("admin", "admin") + user("writer", "wiki-rw") + user("reader", "wiki-ro") +
		user("stater", "state-ro") + user("configro", "config-ro") + user("nobody", "empty") + `
tokens:
  ci-bot: {sha256: "` + sha256Hex(ciToken) + `", roles: [wiki-rw]}
`)
}

type authFixture struct {
	srv    *Server
	runner *memRunner
	logs   *lockedBuffer
	mgr    *dynconfig.Manager
}

func newAuthFixture(t *testing.T, extra ...Option) *authFixture {
	t.Helper()
	fa, err := ParseAuthFile(testAuthFile(t), "")
	require.NoError(t, err)
	m := newMemRunner()
	wi := runningItem("t-wiki", routing.RunnerK8s)
	m.put(wi)
	wi = runningItem("t-koala", routing.RunnerK8s)
	wi.DataSource = "koala"
	m.put(wi)
	m.logs["t-wiki"] = "wiki log\n"
	m.logs["t-koala"] = "koala log\n"

	store, err := dynconfig.OpenFileStore(dynconfig.FileStoreConfig{Path: filepath.Join(t.TempDir(), "exec.json")})
	require.NoError(t, err)
	mgr, err := dynconfig.NewManager(context.Background(), dynconfig.ManagerConfig{}, store)
	require.NoError(t, err)
	t.Cleanup(func() { _ = mgr.Close() })
	h := dynconfig.NewHandlers(mgr, dynconfig.WithIdentity(IdentityName))

	opts := append([]Option{
		WithAuth(fa, fa),
		WithResourceRoutes(ConfigResource, h.Register),
		WithRoutes(func(r *mux.Router) {
			r.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("up 1\n")) }).Methods(http.MethodGet)
		}),
	}, extra...)
	s, logs := newTestServer(t, m, opts...)
	return &authFixture{srv: s, runner: m, logs: logs, mgr: mgr}
}

func basic(user string) map[string]string {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, user+"-pw")
	return map[string]string{"Authorization": r.Header.Get("Authorization")}
}

func withJSON(h map[string]string) map[string]string {
	out := map[string]string{"Content-Type": "application/json"}
	for k, v := range h {
		out[k] = v
	}
	return out
}

func taskBody(id, ds string) string {
	return fmt.Sprintf(`{"type":"index_parallel","id":%q,"spec":{"dataSchema":{"dataSource":%q}}}`, id, ds)
}

// TestAccessControlMatrix: each endpoint class against callers with and
// without the permission it needs.
func TestAccessControlMatrix(t *testing.T) {
	type call struct {
		name          string
		method, path  string
		body          string
		want          map[string]int // caller → status; "" = no credentials
		wantForbidden string         // part of the 403 message
	}
	const cfgPath = dynconfig.PathExecutionConfig
	calls := []call{
		{name: "health open", method: "GET", path: "/status/health",
			want: map[string]int{"": 200, "nobody": 200}},
		{name: "ready open", method: "GET", path: "/status/ready",
			want: map[string]int{"": 200}},
		{name: "status needs STATE READ", method: "GET", path: "/status",
			want: map[string]int{"": 401, "nobody": 403, "writer": 403, "stater": 200, "admin": 200}},
		{name: "capacity needs STATE READ", method: "GET", path: "/taskgate/v1/capacity",
			want: map[string]int{"": 401, "reader": 403, "stater": 200, "admin": 200}, wantForbidden: `may not READ STATE "STATE"`},
		{name: "changes need STATE READ", method: "GET", path: "/taskgate/v1/changes?timeout=0",
			want: map[string]int{"": 401, "writer": 403, "stater": 200}},
		{name: "metrics (WithRoutes default) need STATE READ", method: "GET", path: "/metrics",
			want: map[string]int{"": 401, "writer": 403, "stater": 200}},
		{name: "task status needs READ on its datasource", method: "GET", path: "/taskgate/v1/task/t-wiki/status",
			want: map[string]int{"": 401, "nobody": 403, "stater": 403, "reader": 200, "writer": 200, "admin": 200}},
		{name: "other datasource's status refused", method: "GET", path: "/taskgate/v1/task/t-koala/status",
			want: map[string]int{"reader": 403, "writer": 403, "admin": 200}, wantForbidden: `may not READ task "t-koala"`},
		{name: "location needs READ", method: "GET", path: "/taskgate/v1/task/t-wiki/location",
			want: map[string]int{"": 401, "nobody": 403, "reader": 200}},
		{name: "log needs READ", method: "GET", path: "/taskgate/v1/task/t-wiki/log",
			want: map[string]int{"": 401, "nobody": 403, "reader": 200}},
		{name: "unknown task needs STATE, same 403 as a hidden one", method: "GET", path: "/taskgate/v1/task/t-gone/status",
			want: map[string]int{"reader": 403, "stater": 404, "admin": 404}, wantForbidden: `may not READ task "t-gone"`},
		{name: "malformed id reaches the handler's 400", method: "GET", path: "/taskgate/v1/task//status",
			want: map[string]int{"": 401, "nobody": 400}},
		{name: "shutdown needs WRITE on the datasource", method: "POST", path: "/taskgate/v1/task/t-wiki/shutdown",
			want: map[string]int{"": 401, "reader": 403, "writer": 200, "admin": 200}, wantForbidden: `may not WRITE task "t-wiki"`},
		{name: "shutdown of an unknown task needs STATE WRITE", method: "POST", path: "/taskgate/v1/task/t-gone/shutdown",
			want: map[string]int{"writer": 403, "stater": 403, "admin": 200}},
		{name: "submit needs WRITE on the body's datasource", method: "POST", path: "/taskgate/v1/task", body: taskBody("new-wiki", "wikipedia"),
			want: map[string]int{"": 401, "reader": 403, "stater": 403, "writer": 202}, wantForbidden: `may not WRITE DATASOURCE "wikipedia"`},
		{name: "submit to another datasource refused", method: "POST", path: "/taskgate/v1/task", body: taskBody("new-koala", "koala"),
			want: map[string]int{"writer": 403, "admin": 202}},
		{name: "submit with a bad body is a 400 after authentication", method: "POST", path: "/taskgate/v1/task", body: `{"type":"x"}`,
			want: map[string]int{"": 401, "nobody": 400}},
		{name: "executionconfig GET needs CONFIG READ", method: "GET", path: cfgPath,
			want: map[string]int{"": 401, "stater": 403, "configro": 200, "admin": 200}, wantForbidden: `may not READ CONFIG "CONFIG"`},
		{name: "executionconfig history needs CONFIG READ", method: "GET", path: cfgPath + "/history",
			want: map[string]int{"": 401, "writer": 403, "configro": 200}},
		{name: "executionconfig POST needs CONFIG WRITE", method: "POST", path: cfgPath, body: `{"type":"default","podTemplateSelectStrategy":{"type":"default"}}`,
			want: map[string]int{"": 401, "configro": 403, "admin": 200}, wantForbidden: `may not WRITE CONFIG "CONFIG"`},
		{name: "unknown route is 404 without auth", method: "GET", path: "/nope",
			want: map[string]int{"": 404}},
	}
	for _, c := range calls {
		for caller, want := range c.want {
			t.Run(c.name+"/"+caller, func(t *testing.T) {
				f := newAuthFixture(t)
				var hdr map[string]string
				if caller != "" {
					hdr = basic(caller)
				}
				var body *strings.Reader
				if c.body != "" {
					body = strings.NewReader(c.body)
					hdr = withJSON(hdr)
				} else {
					body = strings.NewReader("")
				}
				rec := serve(t, f.srv.Handler(), req{method: c.method, target: c.path, body: body, header: hdr})
				require.Equal(t, want, rec.Code, "body %s", rec.Body.String())
				switch want {
				case http.StatusUnauthorized:
					e := decodeErr(t, rec)
					assert.Equal(t, "authentication required", e.Error)
					assert.Equal(t, []string{`Basic realm="taskgate", charset="UTF-8"`, `Bearer realm="taskgate"`}, rec.Header().Values("WWW-Authenticate"))
				case http.StatusForbidden:
					e := decodeErr(t, rec)
					assert.Contains(t, e.Error, "forbidden: "+caller+" may not")
					if c.wantForbidden != "" {
						assert.Contains(t, e.Error, c.wantForbidden)
					}
					assert.Empty(t, rec.Header().Values("WWW-Authenticate"))
				}
				// Refused writes must not reach the runner.
				if want == http.StatusForbidden || want == http.StatusUnauthorized {
					f.runner.mu.Lock()
					assert.Empty(t, f.runner.submitted)
					assert.Empty(t, f.runner.shutdowns)
					f.runner.mu.Unlock()
					assert.Nil(t, f.mgr.Stored(), "refused POST stored a config")
				}
			})
		}
	}
}

func TestAuthBadCredentials(t *testing.T) {
	f := newAuthFixture(t)
	wrongPW := httptest.NewRequest("GET", "/", nil)
	wrongPW.SetBasicAuth("admin", "not-the-password")
	unknown := httptest.NewRequest("GET", "/", nil)
	unknown.SetBasicAuth("mallory", "mallory-pw")
	tests := []struct {
		name, authorization, wantLog string
	}{
		{"wrong password", wrongPW.Header.Get("Authorization"), `wrong password for user \"admin\"`},
		{"unknown user", unknown.Header.Get("Authorization"), `unknown user \"mallory\"`},
		{"unknown token", "Bearer not-a-token", "unknown bearer token"},
		{"empty token", "Bearer ", "empty bearer token"},
		{"malformed basic", "Basic !!!", "malformed Basic credentials"},
		{"other scheme", "Digest username=admin", `unsupported authorization scheme \"Digest\"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(t, f.srv.Handler(), req{method: "GET", target: "/status", header: map[string]string{"Authorization": tc.authorization}})
			require.Equal(t, http.StatusUnauthorized, rec.Code)
			e := decodeErr(t, rec)
			// The reply does not say which part was wrong; the log does.
			assert.Equal(t, "invalid credentials", e.Error)
			assert.NotEmpty(t, rec.Header().Values("WWW-Authenticate"))
			assert.Contains(t, f.logs.String(), tc.wantLog)
		})
	}
}

func TestAuthBearerToken(t *testing.T) {
	f := newAuthFixture(t)
	hdr := map[string]string{"Authorization": "Bearer " + ciToken}
	rec := serve(t, f.srv.Handler(), req{method: "POST", target: "/taskgate/v1/task", body: strings.NewReader(taskBody("tok-1", "wiki")), header: withJSON(hdr)})
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	rec = serve(t, f.srv.Handler(), req{method: "POST", target: "/taskgate/v1/task", body: strings.NewReader(taskBody("tok-2", "koala")), header: withJSON(hdr)})
	require.Equal(t, http.StatusForbidden, rec.Code)
	assert.Contains(t, decodeErr(t, rec).Error, "ci-bot may not WRITE")
	// Scheme names are case-insensitive (RFC 7235).
	rec = serve(t, f.srv.Handler(), req{method: "GET", target: "/taskgate/v1/task/t-wiki/status", header: map[string]string{"Authorization": "bearer " + ciToken}})
	require.Equal(t, http.StatusOK, rec.Code)
}

func TestAuthListingFiltered(t *testing.T) {
	f := newAuthFixture(t)
	ids := func(caller string) []string {
		rec := serve(t, f.srv.Handler(), req{method: "GET", target: "/taskgate/v1/tasks", header: basic(caller)})
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var list []TaskStatusPlus
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
		out := []string{}
		for _, s := range list {
			out = append(out, s.ID)
		}
		return out
	}
	assert.ElementsMatch(t, []string{"t-wiki", "t-koala"}, ids("admin"))
	assert.Equal(t, []string{"t-wiki"}, ids("reader"))
	assert.Equal(t, []string{}, ids("nobody"))
	rec := serve(t, f.srv.Handler(), req{method: "GET", target: "/taskgate/v1/tasks"})
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
}

func TestAuthIdentityInAudit(t *testing.T) {
	f := newAuthFixture(t)
	hdr := withJSON(basic("admin"))
	hdr[dynconfig.HeaderAuthor] = "ops"
	rec := serve(t, f.srv.Handler(), req{method: "POST", target: dynconfig.PathExecutionConfig,
		body: strings.NewReader(`{"type":"default","podTemplateSelectStrategy":{"type":"default"}}`), header: hdr})
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	hist, err := f.mgr.History(context.Background(), dynconfig.HistoryQuery{Count: 1})
	require.NoError(t, err)
	require.Len(t, hist, 1)
	require.NotNil(t, hist[0].AuditInfo.Identity)
	assert.Equal(t, "admin", *hist[0].AuditInfo.Identity)
}

func TestAuthUnsecuredPaths(t *testing.T) {
	fa, err := ParseAuthFile(testAuthFile(t), "")
	require.NoError(t, err)
	s, _ := newTestServer(t, newMemRunner(), WithAuth(fa, fa, "/metrics"), WithRoutes(func(r *mux.Router) {
		r.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {}).Methods(http.MethodGet)
	}))
	assert.Equal(t, http.StatusOK, serve(t, s.Handler(), req{method: "GET", target: "/metrics"}).Code)
	assert.Equal(t, http.StatusUnauthorized, serve(t, s.Handler(), req{method: "GET", target: "/status"}).Code)
}

func TestAuthOff(t *testing.T) {
	// Without WithAuth everything is open, as before.
	m := newMemRunner()
	m.put(runningItem("t-wiki", routing.RunnerK8s))
	s, _ := newTestServer(t, m)
	assert.Equal(t, http.StatusOK, serve(t, s.Handler(), req{method: "GET", target: "/taskgate/v1/task/t-wiki/status"}).Code)
	rec := serve(t, s.Handler(), req{method: "POST", target: "/taskgate/v1/task", body: strings.NewReader(taskBody("x1", "any")), header: jsonHeader()})
	assert.Equal(t, http.StatusAccepted, rec.Code)

	opt, err := AuthOption(AuthConfig{})
	require.NoError(t, err)
	s2, _ := newTestServer(t, m, opt)
	assert.Equal(t, http.StatusOK, serve(t, s2.Handler(), req{method: "GET", target: "/status"}).Code)
}

func TestParseAuthFileErrors(t *testing.T) {
	good := bcryptHash(t, "pw")
	tests := []struct {
		name, file string
		want       []string
	}{
		{"unknown field", `users: {a: {passwordHash: "` + good + `", pasword: x}}`, []string{`unknown field "pasword"`}},
		{"bad hash", `users: {a: {passwordHash: plain, roles: []}}`, []string{"users.a.passwordHash: not a bcrypt hash"}},
		{"unknown role", `users: {a: {passwordHash: "` + good + `", roles: [admin]}}`, []string{`users.a.roles[0]: unknown role "admin"`}},
		{"bad type", `roles: {r: [{resource: {type: TABLE, name: x}, action: READ}]}
users: {a: {passwordHash: "` + good + `", roles: [r]}}`, []string{"roles.r[0].resource.type: must be one of"}},
		{"bad action", `roles: {r: [{resource: {type: STATE, name: STATE}, action: DELETE}]}
users: {a: {passwordHash: "` + good + `", roles: [r]}}`, []string{`roles.r[0].action: must be READ or WRITE, got "DELETE"`}},
		{"bad regex", `roles: {r: [{resource: {type: DATASOURCE, name: "wiki(?=x)"}, action: READ}]}
users: {a: {passwordHash: "` + good + `", roles: [r]}}`, []string{"roles.r[0].resource.name: regex"}},
		{"bad token", `tokens: {t: {sha256: abc, roles: []}}`, []string{"tokens.t.sha256: must be 64 hex digits"}},
		{"duplicate token", `tokens: {t1: {sha256: "` + sha256Hex("x") + `"}, t2: {sha256: "` + sha256Hex("x") + `"}}`, []string{"tokens.t2.sha256: same token as tokens.t1"}},
		{"user and token share a name", `users: {a: {passwordHash: "` + good + `"}}
tokens: {a: {sha256: "` + sha256Hex("x") + `"}}`, []string{"tokens.a: name is also a user's"}},
		{"colon in user", `users: {"a:b": {passwordHash: "` + good + `"}}`, []string{"users.a:b: user names must be non-empty and must not contain ':'"}},
		{"empty", `roles: {}`, []string{"defines no users and no tokens"}},
		{"not yaml", `users: [`, []string{"parse:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAuthFile([]byte(tc.file), "")
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestAuthFileJSONAndRegexFullMatch(t *testing.T) {
	file := fmt.Sprintf(`{"roles":{"r":[{"resource":{"type":"DATASOURCE","name":"wiki"},"action":"READ"}]},
"users":{"u":{"passwordHash":%q,"roles":["r"]}}}`, bcryptHash(t, "pw"))
	fa, err := ParseAuthFile([]byte(file), "")
	require.NoError(t, err)
	assert.True(t, fa.Allowed("u", DatasourceResource("wiki"), ActionRead))
	// Druid's Matcher.matches(): "wiki" does not grant "wikipedia" or "my-wiki".
	assert.False(t, fa.Allowed("u", DatasourceResource("wikipedia"), ActionRead))
	assert.False(t, fa.Allowed("u", DatasourceResource("my-wiki"), ActionRead))
	// WRITE does not imply READ and vice versa.
	assert.False(t, fa.Allowed("u", DatasourceResource("wiki"), ActionWrite))
	// The type must match too.
	assert.False(t, fa.Allowed("u", Resource{Type: ResourceState, Name: "wiki"}, ActionRead))
	assert.False(t, fa.Allowed("nobody", DatasourceResource("wiki"), ActionRead))
}

func TestAuthPasswordCache(t *testing.T) {
	fa, err := ParseAuthFile([]byte(fmt.Sprintf(`users: {u: {passwordHash: %q}}`, bcryptHash(t, "pw"))), "")
	require.NoError(t, err)
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth("u", "pw")
	id, err := fa.Authenticate(r)
	require.NoError(t, err)
	assert.Equal(t, Identity{Name: "u", Method: "basic"}, id)
	// A cached good password must not let a different one through.
	r.SetBasicAuth("u", "pw2")
	_, err = fa.Authenticate(r)
	require.ErrorIs(t, err, ErrBadCredentials)
	r.SetBasicAuth("u", "pw")
	_, err = fa.Authenticate(r)
	require.NoError(t, err)
}

func TestSecurityFromProperties(t *testing.T) {
	type props = map[string]string
	tests := []struct {
		name     string
		p        props
		wantAuth AuthConfig
		wantTLS  TLSConfig
		wantErr  []string
	}{
		{name: "defaults", p: props{}, wantAuth: AuthConfig{Realm: "taskgate"}},
		{name: "all set", p: props{
			PropAuthEnabled: "TRUE", PropAuthFile: "/etc/taskgate/auth.yaml", PropAuthRealm: "druid",
			PropAuthUnsecuredPaths: `["/metrics"]`, PropTLSCertFile: "/c.pem", PropTLSKeyFile: "/k.pem",
			PropTLSClientCAFile: "/ca.pem", PropTLSClientAuth: "verifyIfGiven",
		},
			wantAuth: AuthConfig{Enabled: true, File: "/etc/taskgate/auth.yaml", Realm: "druid", UnsecuredPaths: []string{"/metrics"}},
			wantTLS:  TLSConfig{CertFile: "/c.pem", KeyFile: "/k.pem", ClientCAFile: "/ca.pem", ClientAuth: "verifyIfGiven"}},
		{name: "enabled without file", p: props{PropAuthEnabled: "true"}, wantErr: []string{"taskgate.auth.file: is required when taskgate.auth.enabled=true"}},
		{name: "bad bool", p: props{PropAuthEnabled: "yes"}, wantErr: []string{`taskgate.auth.enabled: must be true or false, got "yes"`}},
		{name: "bad paths", p: props{PropAuthUnsecuredPaths: `/metrics`}, wantErr: []string{"taskgate.auth.unsecuredPaths: must be a JSON array"}},
		{name: "relative path", p: props{PropAuthUnsecuredPaths: `["metrics"]`}, wantErr: []string{"taskgate.auth.unsecuredPaths[0]: must be a path"}},
		{name: "cert without key", p: props{PropTLSCertFile: "/c.pem"}, wantErr: []string{"taskgate.api.tls.certFile and taskgate.api.tls.keyFile: set both or neither"}},
		{name: "require without CA", p: props{PropTLSCertFile: "/c.pem", PropTLSKeyFile: "/k.pem", PropTLSClientAuth: "require"},
			wantErr: []string{"taskgate.api.tls.clientAuth: require needs taskgate.api.tls.clientCAFile"}},
		{name: "bad client auth", p: props{PropTLSCertFile: "/c.pem", PropTLSKeyFile: "/k.pem", PropTLSClientAuth: "always"},
			wantErr: []string{`taskgate.api.tls.clientAuth: must be one of none, request, verifyIfGiven, require; got "always"`}},
		{name: "CA without TLS", p: props{PropTLSClientCAFile: "/ca.pem"}, wantErr: []string{"need TLS, but taskgate.api.tls.certFile is not set"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ac, tlsc, err := SecurityFromProperties(mapGetter(tc.p))
			if len(tc.wantErr) > 0 {
				require.Error(t, err)
				for _, w := range tc.wantErr {
					assert.Contains(t, err.Error(), w)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantAuth, ac)
			assert.Equal(t, tc.wantTLS, tlsc)
		})
	}
}

type mapGetter map[string]string

func (m mapGetter) Get(k string) (string, bool) { v, ok := m[k]; return v, ok }

func TestAuthOptionLoadsFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "auth.yaml")
	require.NoError(t, os.WriteFile(path, testAuthFile(t), 0o600))
	opt, err := AuthOption(AuthConfig{Enabled: true, File: path})
	require.NoError(t, err)
	s, _ := newTestServer(t, newMemRunner(), opt)
	assert.Equal(t, http.StatusUnauthorized, serve(t, s.Handler(), req{method: "GET", target: "/status"}).Code)
	assert.Equal(t, http.StatusOK, serve(t, s.Handler(), req{method: "GET", target: "/status", header: basic("stater")}).Code)

	_, err = AuthOption(AuthConfig{Enabled: true, File: filepath.Join(dir, "missing.yaml")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "taskgate.auth.file")
}

func TestWithAuthNeedsBoth(t *testing.T) {
	fa, err := ParseAuthFile(testAuthFile(t), "")
	require.NoError(t, err)
	_, err = NewServer(Config{}, newMemRunner(), WithAuth(fa, nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "both an Authenticator and an Authorizer")
}

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its
// key, and returns their paths and the certificate.
func writeSelfSigned(t *testing.T, dir, name string, isCA bool) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:         isCA, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err = x509.ParseCertificate(der)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	return certFile, keyFile, cert
}

// serveTLS runs s's HTTPServer on a loopback port the way cmd/gateway
// should: ServeTLS with the server's TLSConfig.
func serveTLS(t *testing.T, s *Server) string {
	t.Helper()
	hs := s.HTTPServer()
	require.NotNil(t, hs.TLSConfig)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- hs.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		_ = hs.Close()
		<-done
	})
	return "https://" + ln.Addr().String()
}

func TestTLSServer(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, cert := writeSelfSigned(t, dir, "server", false)
	fa, err := ParseAuthFile(testAuthFile(t), "")
	require.NoError(t, err)
	s := newTestServerCfg(t, Config{ListenAddress: "127.0.0.1:0", TLS: TLSConfig{CertFile: certFile, KeyFile: keyFile}}, newMemRunner(), WithAuth(fa, fa))
	base := serveTLS(t, s)

	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(client.CloseIdleConnections)

	resp, err := client.Get(base + "/status/health")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotNil(t, resp.TLS)
	assert.GreaterOrEqual(t, resp.TLS.Version, uint16(tls.VersionTLS12))

	hr, err := http.NewRequest("GET", base+"/status", nil)
	require.NoError(t, err)
	resp, err = client.Do(hr)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	hr.SetBasicAuth("stater", "stater-pw")
	resp, err = client.Do(hr)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// A client that does not trust the certificate fails the handshake.
	_, err = (&http.Client{Timeout: 10 * time.Second}).Get(base + "/status/health")
	require.Error(t, err)
	// Plain HTTP to the TLS port gets no answer from the API.
	resp, err = http.Get("http://" + strings.TrimPrefix(base, "https://") + "/status/health")
	if err == nil {
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	}
}

func TestTLSClientCertificates(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, serverCert := writeSelfSigned(t, dir, "server", false)
	caFile, caKey, _ := writeSelfSigned(t, dir, "client", true)
	s := newTestServerCfg(t, Config{TLS: TLSConfig{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile}}, newMemRunner())
	base := serveTLS(t, s)
	pool := x509.NewCertPool()
	pool.AddCert(serverCert)

	clientPair, err := tls.LoadX509KeyPair(caFile, caKey)
	require.NoError(t, err)
	withCert := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{clientPair}}}}
	resp, err := withCert.Get(base + "/status/health")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	withCert.CloseIdleConnections()

	without := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	_, err = without.Get(base + "/status/health")
	require.Error(t, err, "clientAuth defaults to require when a client CA is set")
}

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := writeSelfSigned(t, dir, "server", false)
	notPEM := filepath.Join(dir, "ca.txt")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
	tests := []struct {
		name string
		cfg  TLSConfig
		want string
	}{
		{"missing cert", TLSConfig{CertFile: filepath.Join(dir, "nope.crt"), KeyFile: keyFile}, "taskgate.api.tls.certFile/taskgate.api.tls.keyFile: load server certificate"},
		{"key mismatch", TLSConfig{CertFile: certFile, KeyFile: certFile}, "load server certificate"},
		{"CA not PEM", TLSConfig{CertFile: certFile, KeyFile: keyFile, ClientCAFile: notPEM}, "taskgate.api.tls.clientCAFile: " + notPEM + " holds no PEM certificate"},
		{"cert without key", TLSConfig{CertFile: certFile}, "set both or neither"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewServer(Config{TLS: tc.cfg}, newMemRunner())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func newTestServerCfg(t *testing.T, cfg Config, r TaskRunner, opts ...Option) *Server {
	t.Helper()
	s, err := NewServer(cfg, r, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestAuthorizedRoutesAndAuthorize(t *testing.T) {
	fa, err := ParseAuthFile(testAuthFile(t), "")
	require.NoError(t, err)
	m := newMemRunner()
	s, _ := newTestServer(t, m, WithAuth(fa, fa),
		// A datasource-scoped route: the resource comes from the path.
		WithAuthorizedRoutes(func(r *mux.Router) {
			r.HandleFunc("/x/datasource/{ds}", func(w http.ResponseWriter, _ *http.Request) {}).Methods(http.MethodGet)
		}, func(r *http.Request) (Resource, Action, error) {
			ds := mux.Vars(r)["ds"]
			if ds == "bad" {
				return Resource{}, "", fmt.Errorf("datasource %q is not allowed here", ds)
			}
			return DatasourceResource(ds), ActionRead, nil
		}),
		// A handler that learns its resource from the body, like submit.
		WithRoutes(func(r *mux.Router) {
			r.HandleFunc("/x/body", func(w http.ResponseWriter, r *http.Request) {
				if err := Authorize(r, DatasourceResource(r.URL.Query().Get("ds")), ActionWrite); err != nil {
					http.Error(w, err.Error(), http.StatusForbidden)
				}
			}).Methods(http.MethodPost)
		}),
	)
	h := s.Handler()
	assert.Equal(t, http.StatusOK, serve(t, h, req{method: "GET", target: "/x/datasource/wiki", header: basic("reader")}).Code)
	assert.Equal(t, http.StatusForbidden, serve(t, h, req{method: "GET", target: "/x/datasource/koala", header: basic("reader")}).Code)
	assert.Equal(t, http.StatusUnauthorized, serve(t, h, req{method: "GET", target: "/x/datasource/wiki"}).Code)
	rec := serve(t, h, req{method: "GET", target: "/x/datasource/bad", header: basic("reader")})
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, decodeErr(t, rec).Error, `datasource "bad" is not allowed`)
	// Plain WithRoutes routes need STATE WRITE for a POST before the handler runs.
	assert.Equal(t, http.StatusForbidden, serve(t, h, req{method: "POST", target: "/x/body?ds=wiki", header: basic("writer")}).Code)
	assert.Equal(t, http.StatusOK, serve(t, h, req{method: "POST", target: "/x/body?ds=wiki", header: basic("admin")}).Code)

	// Authorize outside a guarded server allows: access control is off.
	assert.NoError(t, Authorize(httptest.NewRequest("GET", "/", nil), DatasourceResource("x"), ActionWrite))
	// Inside, it checks the caller.
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(context.WithValue(context.WithValue(r.Context(), identityKey{}, Identity{Name: "reader"}), authorizerKey{}, Authorizer(fa)))
	assert.NoError(t, Authorize(r, DatasourceResource("wiki"), ActionRead))
	assert.ErrorIs(t, Authorize(r, DatasourceResource("wiki"), ActionWrite), ErrForbidden)
}
