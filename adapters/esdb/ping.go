package esdb

import (
	"context"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"github.com/streamwright/eventsourcing/ports"
)

var _ ports.Pinger = (*Recorder)(nil)

// Ping checks that the server answers a read, for readiness probes and
// app.Options.PingTimeout: it reads, backwards, one event of a stream the
// recorder never writes (the snapshots of the nil aggregate id), which any
// user allowed to read the application's streams may do and which costs
// the server one index look-up. It retries transient failures, like every
// read, until ctx is done or Options.Retries is spent, and then fails
// with an error matching ports.ErrUnavailable (the cause, such as the
// refused connection, in its text), ports.ErrConfiguration (credentials
// or certificate refused), ports.ErrClosed, or ctx's error.
func (r *Recorder) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	octx, cancel := r.bound(ctx)
	defer cancel()
	for _, err := range r.readStream(octx, r.names.snapshots(uuid.Nil), esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1) {
		if err != nil {
			return wrap(ctx, "ping", uuid.Nil, err)
		}
	}
	return nil
}
