package esdb_test

import (
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/ports"
)

// FuzzParseConfig parses prefix + "://" + user + ":" + pass + "@" + rest as
// EVENTSTOREDB_URI. It must not panic; its errors match
// ports.ErrConfiguration and ports.ErrInvalid; and no fragment of the
// password (three characters or more, or the whole password when shorter)
// appears in the error or in any log line unless it also appears when the
// password is replaced by a placeholder: then it is the rest of the string
// or the adapter's own words, not the password.
func FuzzParseConfig(f *testing.F) {
	for _, s := range [][4]string{
		{"esdb", "admin", "changeit", "localhost:2113"},
		{"esdb", "admin", "p?ss#w/rd", "127.0.0.1:2113?tls=false"},
		{"esdb+discover", "ops", "a@b@c", "db.example:2113?nodePreference=follower&tls=true"},
		{"esdb", "admin", "1234?x", "localhost:2113?tls=maybe"},
		{"esdb", "admin", "12345", "localhost:port"},
		{"esdb", "", "secret", "localhost:2113"},
		{"http", "admin", "secret", "localhost:2113"},
		{"esdb", "admin", "%zz%41", "h1:2113,h2:2113,h3:2113?keepAliveInterval=10"},
		{"esdb", "ad%min", "s e c", "localhost:2113/path?unknown=1"},
		{"esdb", "admin", "日本語", "[::1]:2113?tls=false&defaultDeadline=0"},
		{"esdb", "a:b", "c:d", "?tls=false"},
		{"esdb", "admin", "x@host:1?tls=false", "localhost:2113#frag"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	logs := &capture{}
	out, flags := log.Writer(), log.Flags()
	log.SetOutput(logs)
	log.SetFlags(0)
	f.Cleanup(func() {
		log.SetOutput(out)
		log.SetFlags(flags)
	})
	logger := slog.New(captureHandler{c: logs})
	run := func(uri string) []string {
		logs.reset()
		conf, err := adapter.ParseConfigWithLogger(map[string]string{adapter.EnvURI: uri}, logger)
		texts := logs.texts()
		if err != nil {
			texts = append(texts, err.Error(), fmt.Sprintf("%+v", err))
		}
		_ = conf
		return texts
	}
	f.Fuzz(func(t *testing.T, prefix, user, pass, rest string) {
		uri := prefix + "://" + user + ":" + pass + "@" + rest
		q, err := url.PathUnescape(rest)
		if err != nil {
			q = rest
		}
		if strings.Contains(strings.ToLower(q), "cafile") {
			// tlsCAFile names a file the parser reads: a device such as
			// /dev/zero would never end.
			t.Skip("reads a file")
		}
		conf, err := adapter.ParseConfigWithLogger(map[string]string{adapter.EnvURI: uri}, logger)
		if err != nil && (!errors.Is(err, ports.ErrConfiguration) || !errors.Is(err, ports.ErrInvalid)) {
			t.Fatalf("%v matches neither ports.ErrConfiguration nor ports.ErrInvalid", err)
		}
		decoded, derr := url.PathUnescape(pass)
		if derr != nil {
			decoded = pass
		}
		// With a scheme, a user name without ':' or '@' and no '@' after
		// the password, the password is exactly what was written (decoded).
		if err == nil && schemeSyntax.MatchString(prefix) && !strings.ContainsAny(user, ":@") &&
			!strings.Contains(rest, "@") && strings.TrimSpace(uri) == uri && conf.Password != decoded {
			t.Fatalf("password parsed as %q, want %q", conf.Password, decoded)
		}
		got := run(uri)
		base := run(prefix + "://" + user + ":" + "PLACEHOLDER" + "@" + rest)
		for _, secret := range []string{pass, decoded} {
			for _, frag := range windows(secret) {
				if strings.TrimSpace(frag) == "" || containsAny(base, frag) {
					continue
				}
				if x, found := containing(got, frag); found {
					t.Fatalf("fragment %q of the password %q leaked in:\n%s", frag, pass, x)
				}
			}
		}
	})
}

var schemeSyntax = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

// windows returns the password's substrings of three runes (the whole
// password when shorter): any longer fragment that leaks contains one.
func windows(s string) []string {
	r := []rune(s)
	if len(r) < 3 {
		return []string{s}
	}
	out := make([]string, 0, len(r)-2)
	for i := 0; i+3 <= len(r); i++ {
		out = append(out, string(r[i:i+3]))
	}
	return out
}

func containing(texts []string, frag string) (string, bool) {
	for _, x := range texts {
		if strings.Contains(x, frag) {
			return x, true
		}
	}
	return "", false
}

func containsAny(texts []string, frag string) bool {
	_, found := containing(texts, frag)
	return found
}
