package esdb

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/streamwright/eventsourcing/ports"
)

// Module names under which the package registers itself with
// ports.Register.
const (
	ModuleName  = "eventstoredb"
	ModuleAlias = "esdb"
	// ModuleKurrentDB selects the same adapter under the server's current
	// name: KurrentDB is EventStoreDB renamed (25.0 on), and the adapter
	// serves both, using KurrentDB 25.1+'s multi-stream appends where the
	// server offers them.
	ModuleKurrentDB = "kurrentdb"
)

// Settings read from the environment.
const (
	// EnvURI is the connection string: esdb:// or esdb+discover:// as the
	// official client takes it (TLS, credentials, node preference, ...),
	// the same with the schemes kurrentdb://, kurrentdb+discover://, kdb://
	// or kdb+discover:// (synonyms the KurrentDB clients accept), or a bare
	// host:port for one insecure node. The user info runs up to
	// the last '@' of the string, so a password may hold any character
	// (percent-encoding in it is decoded, as the client does); an '@'
	// after the hosts, in a setting's value, must be written %40.
	EnvURI = "EVENTSTOREDB_URI"
	// EnvRootCertificates is PEM text, or the path of a PEM file, of the
	// certificate authorities that TLS connections trust.
	EnvRootCertificates = "EVENTSTOREDB_ROOT_CERTIFICATES"
	// EnvKurrentURI is read as EnvURI when EnvURI is not set, for
	// deployments configured under the server's new name. Both set to
	// different values is a configuration error rather than a silent
	// choice between two servers.
	EnvKurrentURI = "KURRENTDB_URI"
)

func init() {
	ports.Register(ModuleName, open)
	ports.Register(ModuleAlias, open)
	ports.Register(ModuleKurrentDB, open)
}

// open is the registry's opener. ports.Config carries no logger, so the
// recorder logs through slog.Default() (warnings and errors only); a caller
// that wants another logger uses ParseConfigWithLogger and NewFromConfig.
func open(_ context.Context, cfg ports.Config) (ports.ApplicationRecorder, error) {
	if err := checkApplication(cfg.Application); err != nil {
		return nil, err
	}
	conf, err := ParseConfig(cfg.Env)
	if err != nil {
		return nil, err
	}
	r, err := NewFromConfig(conf, cfg.Application, nil)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// ParseConfig is ParseConfigWithLogger with the default logger:
// slog.Default(), warnings and errors only.
func ParseConfig(env map[string]string) (*esdb.Configuration, error) {
	return ParseConfigWithLogger(env, nil)
}

// ParseConfigWithLogger builds the official client's configuration from the
// settings in env (EnvURI or EnvKurrentURI, EnvRootCertificates). Every problem is reported
// at once, each naming its setting; the errors match ports.ErrConfiguration
// and ports.ErrInvalid. No part of the password reaches an error or a log
// line: the credentials are taken out of the connection string before the
// client parses the rest, and set on the configuration afterwards.
//
// Warnings about the settings (an unknown one, a keep-alive below the
// recommended 10 s) go to logger, and so does everything the client logs
// later (its Logger field is set to a bridge to logger). A nil logger
// means slog.Default() with debug and info lines dropped.
func ParseConfigWithLogger(env map[string]string, logger *slog.Logger) (*esdb.Configuration, error) {
	var errs []error
	uri := strings.TrimSpace(env[EnvURI])
	kurrent := strings.TrimSpace(env[EnvKurrentURI])
	var conf *esdb.Configuration
	switch {
	case uri != "" && kurrent != "" && uri != kurrent:
		// Neither value is shown: both may hold a password.
		errs = append(errs, fmt.Errorf("%w: %s and %s are both set, to different connection strings; set one", ports.ErrConfiguration, EnvURI, EnvKurrentURI))
	case uri == "" && kurrent == "":
		errs = append(errs, fmt.Errorf("%w: %s is not set", ports.ErrConfiguration, EnvURI))
	default:
		if uri == "" {
			uri = kurrent
		}
		var err error
		if conf, err = parseURI(uri, logger); err != nil {
			errs = append(errs, err)
		}
	}
	if pemOrPath := strings.TrimSpace(env[EnvRootCertificates]); pemOrPath != "" {
		pool, err := rootCAs(pemOrPath)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %s: %v", ports.ErrConfiguration, EnvRootCertificates, err))
		} else if conf != nil {
			conf.RootCAs = pool
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return conf, nil
}

// clientSettings are the settings the client's parser knows, lower-cased.
// keepAliveInterval is missing on purpose: parseURI reads it itself.
var clientSettings = map[string]bool{
	"discoveryinterval": true, "gossiptimeout": true, "maxdiscoverattempts": true,
	"nodepreference": true, "keepalivetimeout": true, "tls": true, "tlscafile": true,
	"usercertfile": true, "userkeyfile": true, "tlsverifycert": true, "defaultdeadline": true,
}

// parseURI parses a connection string. The client's parser never sees the
// credentials, and never gets a reason to log: it logs through its console
// logger before a configuration exists to carry ours, and it passes the
// password to url.Parse, whose errors and whose reading of a '#', '/' or
// '?' in the password would show parts of it.
func parseURI(uri string, logger *slog.Logger) (*esdb.Configuration, error) {
	scheme, rest, found := strings.Cut(uri, "://")
	if !found || !validScheme(scheme) {
		// A bare host:port, one insecure node; perhaps with credentials,
		// whose password may hold "://" too.
		scheme, rest = "esdb", uri+"?tls=false"
	}
	var userinfo string
	hasUser := false
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		userinfo, rest, hasUser = rest[:at], rest[at+1:], true
	}
	shown := scheme + "://" + rest
	if hasUser {
		shown = scheme + "://<credentials>@" + rest
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s %q is malformed: %s", ports.ErrConfiguration, EnvURI, shown, fmt.Sprintf(format, args...))
	}
	var user, password string
	if hasUser {
		rawUser, rawPass, _ := strings.Cut(userinfo, ":")
		var err error
		if user, err = url.PathUnescape(rawUser); err != nil {
			return nil, bad("the user name is not valid percent-encoding")
		}
		if user == "" {
			return nil, bad("credentials were given with an empty user name")
		}
		// A password the client could decode means what the client makes
		// of it; any other is taken as written.
		if password, err = url.PathUnescape(rawPass); err != nil {
			password = rawPass
		}
	}

	base, query, _ := strings.Cut(rest, "?")
	base, _, _ = strings.Cut(base, "#")
	query, _, _ = strings.Cut(query, "#")
	values, err := url.ParseQuery(query)
	if err != nil {
		return nil, bad("the settings are not valid percent-encoding")
	}
	keep := url.Values{}
	var keepAlive *time.Duration
	var warnings []string
	for key, vs := range values {
		if len(vs) == 0 {
			continue
		}
		lower := strings.ToLower(key)
		switch {
		case lower == "keepaliveinterval":
			d, err := parseKeepAlive(vs[0])
			if err != nil {
				return nil, bad("%v", err)
			}
			if d >= 0 && d < 10*time.Second {
				warnings = append(warnings, fmt.Sprintf("keepAliveInterval of %v is less than the recommended 10 s", d))
			}
			keepAlive = &d
		case clientSettings[lower]:
			keep[key] = vs[:1]
		default:
			warnings = append(warnings, fmt.Sprintf("unknown setting %q ignored", key))
		}
	}
	// The client's parser knows the esdb schemes only; the KurrentDB
	// names mean the same.
	clean := clientScheme(scheme) + "://" + base
	if len(keep) > 0 {
		clean += "?" + keep.Encode()
	}
	conf, err := esdb.ParseConnectionString(clean)
	if err != nil {
		return nil, bad("%v", err)
	}
	conf.Username, conf.Password = user, password
	if keepAlive != nil {
		conf.KeepAliveInterval = *keepAlive
	}
	conf.Logger = clientLogger(logger)
	l := logOrDefault(logger)
	for _, w := range warnings {
		l.Warn("eventstoredb: "+EnvURI+": "+w, slog.String("setting", EnvURI))
	}
	return conf, nil
}

// clientScheme maps the KurrentDB synonyms of the connection string's
// scheme to the esdb schemes the official client parses; any other scheme
// is left for the client to refuse.
func clientScheme(scheme string) string {
	switch strings.ToLower(scheme) {
	case "kurrentdb", "kdb":
		return "esdb"
	case "kurrentdb+discover", "kdb+discover":
		return "esdb+discover"
	}
	return scheme
}

// validScheme reports whether s has the syntax of a URL scheme, so that
// text before a "://" inside a password is not taken for one (and shown).
func validScheme(s string) bool {
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// parseKeepAlive reads keepAliveInterval as the client does: milliseconds,
// or -1 to disable keep-alive.
func parseKeepAlive(v string) (time.Duration, error) {
	i, err := strconv.Atoi(v)
	if err != nil || i < -1 {
		return 0, fmt.Errorf("keepAliveInterval %q is not a positive number of milliseconds or -1", v)
	}
	if i == -1 {
		return -1, nil
	}
	return time.Duration(i) * time.Millisecond, nil
}

func rootCAs(pemOrPath string) (*x509.CertPool, error) {
	data := []byte(pemOrPath)
	if !strings.HasPrefix(pemOrPath, "-----BEGIN") {
		var err error
		if data, err = os.ReadFile(pemOrPath); err != nil {
			return nil, err
		}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, errors.New("no PEM certificate found")
	}
	return pool, nil
}
