package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gorilla/mux"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// requestInfo carries what the router learns (the matched route) back out to
// the access log, which runs outside the router.
type requestInfo struct {
	route string
}

type requestInfoKey struct{}

// routeTagger runs after the router matched: it names the server span after
// the route template (low cardinality, as OpenTelemetry's HTTP conventions
// ask) and hands the template to the access log and the HTTP metrics.
func (s *Server) routeTagger(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if route := mux.CurrentRoute(r); route != nil {
			if tmpl, err := route.GetPathTemplate(); err == nil {
				tmpl = RouteTemplate(tmpl)
				if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
					info.route = tmpl
				}
				span := trace.SpanFromContext(r.Context())
				span.SetName(r.Method + " " + tmpl)
				span.SetAttributes(attribute.String("http.route", tmpl))
				if l, ok := otelhttp.LabelerFromContext(r.Context()); ok {
					l.Add(attribute.String("http.route", tmpl))
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// observe writes one access log line per request and turns a handler panic
// into a logged 500 (or, once the status is sent, a cut connection): the last
// resort behind handlers that validate their input. http.ErrAbortHandler
// passes through: it is how a handler cuts a stream that failed half way,
// and net/http handles it quietly.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			p := recover()
			aborted := p == http.ErrAbortHandler
			if p != nil && !aborted {
				s.log.ErrorContext(r.Context(), "panic serving request",
					"method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if sw.wroteHeader {
					// Too late for a 500: cut the response so it cannot
					// pass for a complete one.
					p, aborted = http.ErrAbortHandler, true
				} else {
					writeError(sw, http.StatusInternalServerError, "internal error", "")
				}
			}
			s.accessLog(r, sw, info, time.Since(start), aborted)
			if aborted {
				panic(p)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

func (s *Server) accessLog(r *http.Request, sw *statusWriter, info *requestInfo, d time.Duration, aborted bool) {
	status := sw.status
	if !sw.wroteHeader {
		status = http.StatusOK // net/http's answer for a handler that wrote nothing
	}
	level := slog.LevelInfo
	switch {
	case status >= 500 || aborted:
		level = slog.LevelError
	case info.route == "/status/health" || info.route == "/status/ready":
		// Probes come every few seconds; keep them out of the info stream.
		level = slog.LevelDebug
	}
	ctx := r.Context()
	if !s.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("route", info.route),
		slog.Int("status", status),
		slog.Int64("bytes", sw.bytes),
		slog.Duration("duration", d),
		slog.String("remote", r.RemoteAddr),
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	if aborted {
		attrs = append(attrs, slog.Bool("aborted", true))
	}
	s.log.LogAttrs(ctx, level, "http request", attrs...)
}

// statusWriter records the status and size of a response. It keeps Flush and
// Unwrap reachable so streaming handlers and http.ResponseController work
// through it.
type statusWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader && code >= 200 {
		w.status = code
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.status = http.StatusOK
		w.wroteHeader = true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if !w.wroteHeader {
		w.status = http.StatusOK
		w.wroteHeader = true
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
