package esdb_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/ports"
)

// Passwords never reach a log line or an error, whatever characters they
// hold. The rule checked: no substring of three or more characters of the
// password (or the whole password, when shorter), as written in the
// connection string or as decoded from its percent-encoding, appears in
// anything captured, unless it also occurs in the rest of the connection
// string (such as "://"), from which it cannot be told. The passwords are
// chosen so that no fragment occurs in the adapter's and the client's own
// words.

// capture collects everything written to the standard log package and to
// a debug-level slog logger, unescaped, while a test runs.
type capture struct {
	mu    sync.Mutex
	lines []string
	std   bytes.Buffer
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.std.Write(p)
}

func (c *capture) add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, s)
}

// texts returns every captured slog record and standard log line.
func (c *capture) texts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]string(nil), c.lines...)
	for l := range strings.SplitSeq(c.std.String(), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (c *capture) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines, c.std = nil, bytes.Buffer{}
}

// captureHandler records each slog record as its message and attributes,
// without the quoting of a text handler, which could disguise a leak.
type captureHandler struct {
	c     *capture
	attrs []slog.Attr
}

func (h captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h captureHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.c.add(b.String())
	return nil
}

func (h captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return captureHandler{h.c, append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h captureHandler) WithGroup(string) slog.Handler { return h }

// captureLogs sends the standard log package's output to a capture for the
// rest of the test, and returns it with a debug-level logger writing to it.
func captureLogs(t *testing.T) (*capture, *slog.Logger) {
	t.Helper()
	c := &capture{}
	out, flags := log.Writer(), log.Flags()
	log.SetOutput(c)
	log.SetFlags(0)
	t.Cleanup(func() {
		log.SetOutput(out)
		log.SetFlags(flags)
	})
	return c, slog.New(captureHandler{c: c})
}

// pointerAddress matches a pointer as %#v prints it.
var pointerAddress = regexp.MustCompile(`0x[0-9a-f]{6,}`)

// fragments returns the substrings of s (in runes) that must not leak.
func fragments(s string) []string {
	r := []rune(s)
	if len(r) < 3 {
		return []string{s}
	}
	var out []string
	for i := range r {
		for j := i + 3; j <= len(r); j++ {
			out = append(out, string(r[i:j]))
		}
	}
	return out
}

// leak returns the first fragment of secrets found in texts, and where.
// Fragments found in public, the connection string without its password,
// cannot be told from it and are not counted.
func leak(secrets []string, texts []string, public ...string) (fragment, text string, found bool) {
	for _, s := range secrets {
		for _, f := range fragments(s) {
			if slices.ContainsFunc(public, func(p string) bool { return strings.Contains(p, f) }) {
				continue
			}
			for _, x := range texts {
				if strings.Contains(x, f) {
					return f, x, true
				}
			}
		}
	}
	return "", "", false
}

// secretPasswords pairs a password as written in a connection string with
// the password the server checks. Most are written raw, as users type them.
var secretPasswords = []struct{ raw, password string }{
	{"Qz?xJw", "Qz?xJw"},
	{"Qz#xJw", "Qz#xJw"},
	{"Qz/xJw", "Qz/xJw"},
	{"Qz@xJw", "Qz@xJw"},
	{"Qz:xJw", "Qz:xJw"},
	{"Qzk://xJw", "Qzk://xJw"},
	{"Qz%xJw", "Qz%xJw"}, // not valid percent-encoding: taken as written
	{"Qz&xJw=Kv", "Qz&xJw=Kv"},
	{"Qz xJw Kv", "Qz xJw Kv"},
	{"Qzé☃xJw", "Qzé☃xJw"},
	{"Qz%40xJw%23Kv", "Qz@xJw#Kv"},
	{"Qz%2FxJw%3FKv", "Qz/xJw?Kv"},
	{"Qz%25xJw", "Qz%xJw"},
	{strings.Repeat("QzJw?#/@:%&= ", 12), strings.Repeat("QzJw?#/@:%&= ", 12)},
	{"Qj?#/@:&= Xw", "Qj?#/@:&= Xw"},
	{"@@@Qjx", "@@@Qjx"},
	{"Qjx@@@", "Qjx@@@"},
	{"Qjx#", "Qjx#"},
	{"#Qjx", "#Qjx"},
	{"?Qjx=Zk", "?Qjx=Zk"},
	{"Qjx@Zhqzt:Kp", "Qjx@Zhqzt:Kp"},
	{"Qjx/../Zk", "Qjx/../Zk"},
	{`Qjx"Zk'`, `Qjx"Zk'`},
	{"Qjx%zzZk", "Qjx%zzZk"},
	{"Qjx%%Zk", "Qjx%%Zk"},
	{"Qjx+Zk", "Qjx+Zk"},
	{"Qjx;Zk,Wq", "Qjx;Zk,Wq"},
	{"Qjx[Zk]", "Qjx[Zk]"},
	{`Qjx\Zk`, `Qjx\Zk`},
	{"Qjx~Zk!*()", "Qjx~Zk!*()"},
	{"日本語パスワード", "日本語パスワード"},
	{"Qj🔑Zk", "Qj🔑Zk"},
	{"Qjx:Zk:Wq", "Qjx:Zk:Wq"},
	{"Qjx?Tz=Kq&Wv", "Qjx?Tz=Kq&Wv"},
	{"Ñ#", "Ñ#"},
	{"Zq", "Zq"},
	{"Qjx%", "Qjx%"},
	{"%Qjx", "%Qjx"},
	// A password of digits before a '?' or '/' reads as a port to url.Parse.
	{"", ""}, // the digits-only password, chosen once the ports are known
	{"", ""}, // the same digits with "?Qjx" after them
}

func TestPasswordsNeverReachLogsOrErrors(t *testing.T) {
	tlsSetup, err := esdbtest.NewTLS()
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := lis.Addr().String()
	_ = lis.Close()

	cases := append([]struct{ raw, password string }(nil), secretPasswords...)
	user := func(i int) string { return fmt.Sprintf("user%02d", i) }
	// The servers need their users before they start, and the digits-only
	// password must not share a fragment with their ports: start them until
	// a candidate fits.
	var goodSrv, wrongSrv *esdbtest.Server
	n := len(cases)
	for attempt := 0; ; attempt++ {
		digits := []string{"8642", "97531", "5318642", "2468", "7777", "6060606"}[attempt%6]
		cases[n-2] = struct{ raw, password string }{digits, digits}
		cases[n-1] = struct{ raw, password string }{digits + "?Qjx", digits + "?Qjx"}
		good, wrong := map[string]string{}, map[string]string{}
		for i, c := range cases {
			good[user(i)] = c.password
			wrong[user(i)] = "Other" + c.password
		}
		goodSrv = startServer(t, &esdbtest.Options{TLS: tlsSetup, Users: good})
		wrongSrv = startServer(t, &esdbtest.Options{TLS: tlsSetup, Users: wrong})
		public := goodSrv.Addr() + " " + wrongSrv.Addr() + " " + closedAddr
		if _, _, found := leak([]string{digits}, []string{public}); !found {
			break
		}
		if attempt > 30 {
			t.Fatalf("no digits-only password avoids the ports of %s", public)
		}
		_ = goodSrv.Close()
		_ = wrongSrv.Close()
	}

	ctx := testCtx(t)
	logs, logger := captureLogs(t)
	roots := string(tlsSetup.CAPEM)
	id := uuid.MustParse("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")
	const app = "secrets"
	strs, checked := 0, 0
	var errs []string
	addErr := func(err error) {
		if err != nil {
			// %#v shows pointers as hexadecimal addresses, whose digits
			// mean nothing and could match a digits-only password.
			errs = append(errs, err.Error(), fmt.Sprintf("%+v", err), pointerAddress.ReplaceAllString(fmt.Sprintf("%#v", err), "0xADDRESS"))
		}
	}

	for i, c := range cases {
		logs.reset()
		errs = nil
		u := user(i)
		env := func(uri string) map[string]string {
			return map[string]string{adapter.EnvURI: uri, adapter.EnvRootCertificates: roots}
		}
		uris := map[string]string{
			"good":     "esdb://" + u + ":" + c.raw + "@" + goodSrv.Addr() + "?tls=true",
			"refusing": "esdb://" + u + ":" + c.raw + "@" + wrongSrv.Addr() + "?tls=true&nodePreference=leader",
			"closed":   "esdb://" + u + ":" + c.raw + "@" + closedAddr + "?tls=true&maxDiscoverAttempts=1&discoveryInterval=1&someSetting=1",
			"discover": "esdb+discover://" + u + ":" + c.raw + "@" + goodSrv.Addr() + "?tls=true&keepAliveInterval=5000",
			"seeds":    "esdb://" + u + ":" + c.raw + "@" + goodSrv.Addr() + "," + wrongSrv.Addr() + "?tls=true",
			"bare":     u + ":" + c.raw + "@" + goodSrv.Addr(),
			"bad port": "esdb://" + u + ":" + c.raw + "@127.0.0.1:port?tls=true",
			"no host":  "esdb://" + u + ":" + c.raw + "@?tls=true",
			"scheme":   "http://" + u + ":" + c.raw + "@" + goodSrv.Addr(),
			"setting":  "esdb://" + u + ":" + c.raw + "@" + goodSrv.Addr() + "?tls=maybe",
		}
		strs += len(uris)
		for name, uri := range uris {
			conf, err := adapter.ParseConfigWithLogger(env(uri), logger)
			addErr(err)
			wantOK := name != "bad port" && name != "no host" && name != "scheme" && name != "setting"
			if wantOK != (err == nil) {
				t.Fatalf("password %d, %s: ParseConfig error %v, want error %v", i, name, err, !wantOK)
			}
			if err == nil && (conf.Username != u || conf.Password != c.password) {
				t.Fatalf("password %d, %s: parsed user %q, want %q (password parsed as written: %v)", i, name, conf.Username, u, conf.Password == c.password)
			}
			_, err = adapter.ParseConfig(env(uri))
			addErr(err)
		}

		// A successful connection, through the registry (default logger).
		r, err := ports.Open(ctx, "esdb", ports.Config{Application: app, Env: env(uris["good"])})
		if err != nil {
			t.Fatalf("password %d: ports.Open: %v", i, err)
		}
		if _, err := r.InsertEvents(ctx, eventsOf(id, uint64(i), 1, "secret")); err != nil {
			t.Fatalf("password %d: insert with the right password: %v", i, err)
		}
		_ = r.(io.Closer).Close()

		// A refused one, through the registry and with the debug logger.
		r, err = ports.Open(ctx, "esdb", ports.Config{Application: app, Env: env(uris["refusing"])})
		if err != nil {
			t.Fatalf("password %d: ports.Open: %v", i, err)
		}
		_, err = r.InsertEvents(ctx, eventsOf(id, uint64(i)+1, 1, "refused"))
		if !errors.Is(err, adapter.ErrAccessDenied) {
			t.Fatalf("password %d: insert with a wrong password: %v, want ErrAccessDenied", i, err)
		}
		addErr(err)
		_ = r.(io.Closer).Close()
		for _, name := range []string{"refusing", "closed"} {
			conf, err := adapter.ParseConfigWithLogger(env(uris[name]), logger)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := adapter.NewFromConfig(conf, app, &adapter.Options{Logger: logger, Retries: -1})
			if err != nil {
				t.Fatal(err)
			}
			_, err = rec.InsertEvents(ctx, eventsOf(id, uint64(i)+1, 1, "refused"))
			if err == nil {
				t.Fatalf("password %d, %s: insert succeeded", i, name)
			}
			addErr(err)
			addErr(selectErr(t, ctx, rec, id))
			_ = rec.Close()
		}

		texts := append(logs.texts(), errs...)
		if len(texts) == 0 {
			t.Fatalf("password %d: nothing captured", i)
		}
		checked += len(texts)
		secrets := []string{c.raw, c.password}
		var public []string
		for _, uri := range uris {
			public = append(public, strings.Replace(uri, c.raw, "", 1))
		}
		if f, x, found := leak(secrets, texts, public...); found {
			t.Fatalf("password %d (%q): fragment %q leaked in:\n%s", i, c.raw, f, x)
		}
	}
	t.Logf("%d passwords, %d connection strings, %d captured log lines and error texts checked", len(cases), strs, checked)
}
