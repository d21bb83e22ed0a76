package sqladapter

import (
	"context"
	"fmt"
	"strings"

	"github.com/streamwright/eventsourcing/ports"
)

// ModuleName is the name the package registers its persistence module
// under (PERSISTENCE_MODULE=sqlite).
const ModuleName = "sqlite"

// EnvDSN is the setting that names the database of the "sqlite" module: a
// file path or a "file:" URI, as Open takes.
const EnvDSN = "SQLITE_DSN"

func init() {
	ports.Register(ModuleName, open)
}

// open is the module's ports.Opener: it opens a Store on cfg.Env[EnvDSN]
// and returns the recorder of cfg.Application, which owns the Store and
// closes it at its Close.
func open(ctx context.Context, cfg ports.Config) (ports.ApplicationRecorder, error) {
	dsn := strings.TrimSpace(cfg.Env[EnvDSN])
	if dsn == "" {
		return nil, fmt.Errorf("%w: %s is not set (give the path of the SQLite database file)", ports.ErrConfiguration, EnvDSN)
	}
	if cfg.Application == "" {
		return nil, fmt.Errorf("%w: sqladapter: empty application name", ports.ErrInvalid)
	}
	s, err := Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvDSN, err)
	}
	r := s.Recorder(cfg.Application)
	r.owned = true
	return r, nil
}
