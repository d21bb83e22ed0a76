package esdb

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/streamwright/eventsourcing/ports"
)

// Module names under which the package registers itself with
// ports.Register.
const (
	ModuleName  = "eventstoredb"
	ModuleAlias = "esdb"
)

// Settings read from the environment.
const (
	// EnvURI is the connection string: esdb:// or esdb+discover:// as the
	// official client takes it (TLS, credentials, node preference, ...),
	// or a bare host:port for one insecure node.
	EnvURI = "EVENTSTOREDB_URI"
	// EnvRootCertificates is PEM text, or the path of a PEM file, of the
	// certificate authorities that TLS connections trust.
	EnvRootCertificates = "EVENTSTOREDB_ROOT_CERTIFICATES"
)

func init() {
	ports.Register(ModuleName, open)
	ports.Register(ModuleAlias, open)
}

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

// ParseConfig builds the official client's configuration from the settings
// in env (EnvURI, EnvRootCertificates). Every problem is reported at once,
// each naming its setting, with passwords left out; the errors match
// ports.ErrInvalid.
func ParseConfig(env map[string]string) (*esdb.Configuration, error) {
	var errs []error
	uri := strings.TrimSpace(env[EnvURI])
	var conf *esdb.Configuration
	switch {
	case uri == "":
		errs = append(errs, fmt.Errorf("%w: %s is not set", ports.ErrInvalid, EnvURI))
	default:
		if !strings.Contains(uri, "://") {
			uri = "esdb://" + uri + "?tls=false" // a bare host:port: one insecure node
		}
		var err error
		conf, err = esdb.ParseConnectionString(uri)
		if err != nil {
			errs = append(errs, malformed(uri, err))
		}
	}
	if pemOrPath := strings.TrimSpace(env[EnvRootCertificates]); pemOrPath != "" {
		pool, err := rootCAs(pemOrPath)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %s: %v", ports.ErrInvalid, EnvRootCertificates, err))
		} else if conf != nil {
			conf.RootCAs = pool
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	conf.Logger = quietLogger
	return conf, nil
}

// quietLogger passes on the client's warnings and errors and drops its
// chatty debug and info lines.
func quietLogger(level esdb.LogLevel, format string, args ...any) {
	if level == esdb.LogWarn || level == esdb.LogError {
		log.Printf("eventstoredb: "+format, args...)
	}
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

// malformed reports a connection string the client refused, without its
// password. The client's message may quote the password whole or in pieces
// (a '/' or '#' in it ends the URL's host early), so when there is one the
// message describes the redacted string instead.
func malformed(uri string, err error) error {
	shown, reason := redact(uri), err.Error()
	if shown != uri {
		if _, rerr := esdb.ParseConnectionString(shown); rerr != nil {
			reason = rerr.Error()
		} else {
			reason = "the credentials do not parse (percent-encode special characters in the user name and password)"
		}
	}
	return fmt.Errorf("%w: %s %q is malformed: %s", ports.ErrInvalid, EnvURI, shown, reason)
}

// redact replaces the password of a connection string's userinfo: all
// between the userinfo's first ':' and the last '@', since a password may
// hold '/', '?', '#' or '@' that the URL syntax does not allow there.
func redact(uri string) string {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return uri
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return uri
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return uri
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}
