package esdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/ports"
)

// Compile-time checks that Recorder implements the ports it promises.
var (
	_ ports.ApplicationRecorder = (*Recorder)(nil)
	_ ports.ProcessRecorder     = (*Recorder)(nil)
	_ ports.SnapshotRecorder    = (*Recorder)(nil)
	_ ports.CapabilityReporter  = (*Recorder)(nil)
)

// Capabilities are what a Recorder with default options supports on a
// server without multi-stream appends (EventStoreDB, KurrentDB before
// 25.1): everything but contiguous notification ids (ids are $all commit
// positions), batches of several aggregates (such a server appends
// atomically to one stream only), first versions other than 0 (versions
// are stream revisions) and every event's id from InsertEvents (an append
// answers with its last event's position only; see
// Options.EveryNotificationID). On KurrentDB 25.1 and later a recorder made
// with NewFromConfig also reports AtomicMultiAggregateBatches; see
// Recorder.Capabilities.
var Capabilities = ports.Capabilities{
	Subscriptions: true,
	Tracking:      true,
	Snapshots:     true,
}

// Options tunes a Recorder. The zero value, or nil, gives the defaults.
type Options struct {
	// Retries is how many times an operation that failed transiently
	// (unavailable server, lost connection, not leader, client deadline)
	// is retried before its error is returned; 0 means the default, 6,
	// and a negative value disables retries. Retried appends never
	// duplicate events: they reuse their event ids, which EventStoreDB
	// recognises.
	Retries int
	// RetryDelay is the first pause between retries, doubled each time up
	// to two seconds; default 50 ms.
	RetryDelay time.Duration
	// EveryNotificationID makes InsertEvents and the tracked inserts return
	// the notification id of every event of a batch, and the recorder
	// report the NotificationIDsFromInsert capability. An append answers
	// with the position of its last event only, so the ids of the other
	// events cost one read of the batch after its append. Without it,
	// InsertEvents is one append and returns the last event's id only
	// (enough to wait for a follower to catch up with the write), and
	// the tracked inserts return nil.
	EveryNotificationID bool
	// CallTimeout bounds each wait for an answer from EventStoreDB within
	// one attempt, beyond the client's own deadlines: the official client's
	// answer to a call, the next event of a read, the next message of a
	// subscription while it catches up (a live subscription may stay quiet
	// as long as it likes). An attempt not answered in time is abandoned,
	// its call cancelled, and fails with ErrStuck, which is retried.
	// Default 10 seconds.
	CallTimeout time.Duration
	// OperationTimeout bounds a whole operation, retries and their pauses
	// included: InsertEvents, SelectNotifications, MaxNotificationID, the
	// tracking and snapshot calls, and SelectEvents up to its first event
	// (after which each event is bounded by CallTimeout). An operation not
	// done in time fails with an error matching ErrStuck and
	// ports.ErrUnavailable. Subscribe is not bounded: its start and
	// catch-up are, through CallTimeout. Default 30 seconds.
	OperationTimeout time.Duration
	// ScanPage is how many records MaxNotificationID reads per request
	// while it searches $all backwards on a recorder made with New, and,
	// on one opened with NewFromConfig, the search window the server
	// examines per step of its filtered read; default 512.
	ScanPage int
	// ClassicAppends keeps the recorder to the classic append, one stream
	// per atomic append, even on a server that offers multi-stream appends
	// (KurrentDB 25.1 and later): batches of several aggregates are then
	// refused and tracked writes use the claim protocol, as on
	// EventStoreDB.
	ClassicAppends bool
	// Logger receives the official client's log lines, structured and at
	// their levels, for clients the recorder opens (NewFromConfig, and the
	// replacement of a client that closed itself). Nil keeps the logger of
	// the configuration, which ParseConfig sets to slog.Default() without
	// debug and info lines. A client passed to New logs as its owner set up.
	Logger *slog.Logger
}

func (o *Options) retries() int {
	switch {
	case o.Retries < 0:
		return 0
	case o.Retries == 0:
		return 6
	}
	return o.Retries
}

func (o *Options) retryDelay() time.Duration {
	if o.RetryDelay > 0 {
		return o.RetryDelay
	}
	return 50 * time.Millisecond
}

func (o *Options) callTimeout() time.Duration {
	if o.CallTimeout > 0 {
		return o.CallTimeout
	}
	return 10 * time.Second
}

func (o *Options) operationTimeout() time.Duration {
	if o.OperationTimeout > 0 {
		return o.OperationTimeout
	}
	return 30 * time.Second
}

func (o *Options) scanPage() uint64 {
	if o.ScanPage > 0 {
		return uint64(o.ScanPage)
	}
	return 512
}

// Recorder stores one application's events, notification log, tracking and
// snapshots in EventStoreDB. It is safe for concurrent use. Close it when
// done (see Close).
type Recorder struct {
	names names
	opts  Options
	// conf, set when the recorder opened its client, lets it open the
	// clients that replace one that is about to leak its connection or
	// has closed itself for good (see lifecycle.go).
	conf *esdb.Configuration
	// last, set with conf, makes the filtered reads of $all that the
	// official client cannot (see lastread.go).
	last *lastReader
	// v2, set with conf, is the connection to the leader for the v2
	// streams service; sessions records that the server offered its
	// AppendSession when the recorder was made (see multistream.go).
	v2       *lastReader
	sessions bool
	// tracks holds, for multi-stream tracked writes, the state of each
	// tracking stream as this recorder last wrote or read it.
	trackMu sync.Mutex
	tracks  map[string]trackState

	cur     atomic.Pointer[conn] // the client new calls use
	closed  atomic.Bool
	closing context.Context // done when Close begins
	shut    context.CancelFunc

	mu    sync.Mutex
	conns map[*conn]struct{} // clients not closed yet

	dialErr atomic.Pointer[dialFailure] // see dialcause.go
}

// NewFromConfig returns the recorder of the named application over a client
// it opens from conf (see ParseConfig) and owns: Close closes it, and a
// client that closes itself for good after a long outage is replaced.
//
// Unless Options.ClassicAppends is set, it asks the server once, within
// Options.CallTimeout, whether it offers multi-stream appends (KurrentDB
// 25.1 and later advertise AppendSession in their server features); the
// answer holds for the recorder's life (see Recorder.Capabilities). A
// server that cannot be reached then is taken for one without them, and a
// warning is logged.
func NewFromConfig(conf *esdb.Configuration, application string, opts *Options) (*Recorder, error) {
	if conf == nil {
		return nil, fmt.Errorf("%w: eventstoredb: NewFromConfig needs a configuration", ports.ErrInvalid)
	}
	if err := checkApplication(application); err != nil {
		return nil, err
	}
	if opts != nil {
		conf = withLogger(conf, opts.Logger)
	}
	r := newRecorder(application, opts)
	r.conf = conf
	c, err := r.openConn()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ports.ErrConfiguration, EnvURI, err)
	}
	r.last = newLastReader(conf, r.opts.scanPage())
	leader := *conf
	leader.NodePreference = esdb.NodePreferenceLeader
	r.v2 = newLastReader(&leader, 0)
	r.start(c)
	if !r.opts.ClassicAppends {
		ctx, cancel := context.WithTimeout(context.Background(), r.opts.callTimeout())
		ok, err := r.detectSessions(ctx)
		cancel()
		if err != nil {
			logOrDefault(r.opts.Logger).Warn("eventstoredb: could not ask the server whether it offers multi-stream appends; using classic appends",
				slog.String("error", classified(err).Error()))
		}
		r.sessions = ok
	}
	return r, nil
}

// New returns the recorder of the named application over client. The
// application name scopes every stream the recorder writes, so several
// applications can share one database; it must not be empty, start with
// '$', or contain control characters. Close does not close a client passed
// here.
func New(client *esdb.Client, application string, opts *Options) (*Recorder, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: eventstoredb: New needs a client", ports.ErrInvalid)
	}
	if err := checkApplication(application); err != nil {
		return nil, err
	}
	r := newRecorder(application, opts)
	r.start(newConn(r, client, false))
	return r, nil
}

func newRecorder(application string, opts *Options) *Recorder {
	r := &Recorder{names: newNames(application), conns: map[*conn]struct{}{}}
	if opts != nil {
		r.opts = *opts
	}
	r.closing, r.shut = context.WithCancel(context.Background())
	return r
}

// start makes c the recorder's client; the recorder is open from here on.
func (r *Recorder) start(c *conn) {
	r.conns[c] = struct{}{}
	r.cur.Store(c)
	calls.hold()
}

func checkApplication(app string) error {
	switch {
	case app == "":
		return fmt.Errorf("%w: eventstoredb: the application name is empty", ports.ErrInvalid)
	case strings.HasPrefix(app, "$"):
		return fmt.Errorf("%w: eventstoredb: application name %q starts with '$', which EventStoreDB reserves for system streams", ports.ErrInvalid, app)
	case strings.ContainsFunc(app, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("%w: eventstoredb: application name %q contains control characters", ports.ErrInvalid, app)
	}
	return nil
}

// Capabilities returns the package's Capabilities, with
// NotificationIDsFromInsert when Options.EveryNotificationID is set, and
// AtomicMultiAggregateBatches when the server offered multi-stream appends
// as NewFromConfig made the recorder (never for a recorder made with New,
// which has no configuration to open their connection from).
func (r *Recorder) Capabilities() ports.Capabilities {
	c := Capabilities
	c.NotificationIDsFromInsert = r.opts.EveryNotificationID
	c.AtomicMultiAggregateBatches = r.sessions
	return c
}

// Client returns the official client the recorder uses now. A recorder
// that opened its client replaces it when the client is about to leak its
// connection, and closes the old one once the recorder's calls are done
// with it, so use the result for a moment only; calls made on it directly
// are not known to the recorder, which may close it under them.
func (r *Recorder) Client() *esdb.Client {
	return r.cur.Load().client
}

// canRetry reports whether an operation that failed with err may be
// retried. A client closed for good has been replaced by then when the
// recorder opened it (see guard); one passed to New is its owner's to
// replace.
func (r *Recorder) canRetry(err error) bool {
	switch {
	case r.closed.Load() || errors.Is(err, ports.ErrClosed):
		return false
	case errors.Is(err, ErrStuck):
		return true
	case clientClosed(err):
		return r.conf != nil
	}
	return retryable(err)
}

const opInsert = "insert events"

// InsertEvents appends the events of one aggregate to its stream: the first
// with expected revision no_stream when it is version 0, otherwise with the
// revision before it, so that a stale writer fails with ports.ErrConcurrency.
// Events of several aggregates in one batch fail with ports.ErrInvalid (and
// ports.ErrNotSupported), because EventStoreDB appends atomically to one
// stream only, unless the recorder reports AtomicMultiAggregateBatches
// (KurrentDB 25.1+): then they are one multi-stream append, all stored or
// none. Such an append stores each stream's events together, so a batch
// that interleaves its aggregates' events reaches the log grouped by
// aggregate (the aggregates ordered by their last event in the batch,
// which stays the last notification); any other batch keeps its order. A
// topic a multi-stream append cannot store (KurrentDB takes letters,
// digits, '_', '.', '$', ':' and '-') fails such a batch with
// ports.ErrInvalid. Versions are stream revisions, so an aggregate's first
// version must be 0. It returns the notification id (the $all commit
// position) of the batch's last event only, which the append's answer
// holds, so a batch is one append; with Options.EveryNotificationID it
// returns every event's id, in batch order, at the cost of one more read.
func (r *Recorder) InsertEvents(ctx context.Context, events []ports.StoredEvent) ([]uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ports.CheckBatch(opInsert, events, r.sessions); err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, nil
	}
	if r.sessions && !oneAggregate(events) {
		return r.insertSession(ctx, events)
	}
	id := events[0].OriginatorID
	expected := int64(events[0].OriginatorVersion) - 1
	stream := r.names.aggregate(id)
	octx, cancel := r.bound(ctx)
	defer cancel()
	res, err := r.appendWithRetry(octx, stream, revisionAfter(expected), toEventData(events))
	switch {
	case err == nil:
		if !r.opts.EveryNotificationID {
			return r.lastEventID(octx, stream, id, uint64(expected+int64(len(events))), res.CommitPosition)
		}
		return r.positions(octx, stream, id, uint64(expected+1), len(events), res.CommitPosition)
	case isWrongVersion(err) && ctx.Err() == nil:
		return nil, conflict(opInsert, id, expected, err)
	}
	return nil, wrap(ctx, opInsert, id, err)
}

// oneAggregate reports whether events are all of one aggregate.
func oneAggregate(events []ports.StoredEvent) bool {
	for i := 1; i < len(events); i++ {
		if events[i].OriginatorID != events[0].OriginatorID {
			return false
		}
	}
	return true
}

// positions returns the commit positions of the n events appended to stream
// from revision first, the last of which is at last (0: unknown).
func (r *Recorder) positions(ctx context.Context, stream string, id uuid.UUID, first uint64, n int, last uint64) ([]uint64, error) {
	ids := make([]uint64, 0, n)
	unread := n - 1 // the last position is known, unless last is 0
	if last == 0 {
		unread = n
	}
	if unread > 0 {
		for e, err := range r.readStream(ctx, stream, esdb.ReadStreamOptions{From: esdb.Revision(first)}, uint64(unread)) {
			if err != nil {
				return nil, wrap(ctx, "read back notification ids", id, err)
			}
			ids = append(ids, e.Position.Commit)
		}
		if len(ids) != unread {
			return nil, ports.Errorf(opInsert, id, ports.ErrIntegrity, "read back %d of the %d events just appended", len(ids), unread)
		}
	}
	if last != 0 {
		ids = append(ids, last)
	}
	return ids, nil
}

// lastEventID returns, as a one-element slice, the commit position of the
// event at revision rev of stream: last when the append's answer held it,
// else read back (an answer without a position is not expected from
// EventStoreDB, but read-your-writes must not depend on it).
func (r *Recorder) lastEventID(ctx context.Context, stream string, id uuid.UUID, rev uint64, last uint64) ([]uint64, error) {
	if last != 0 {
		return []uint64{last}, nil
	}
	return r.positions(ctx, stream, id, rev, 1, 0)
}

// revisionAfter is the expected revision of an append that follows
// revision last (-1: none).
func revisionAfter(last int64) esdb.ExpectedRevision {
	if last < 0 {
		return esdb.NoStream{}
	}
	return esdb.Revision(uint64(last))
}

// toEventData gives each event a fresh random id: a retry of the same append
// reuses them, so EventStoreDB recognises it, while another writer's events
// can never be mistaken for it.
func toEventData(events []ports.StoredEvent) []esdb.EventData {
	data := make([]esdb.EventData, len(events))
	for i, e := range events {
		ct := esdb.ContentTypeBinary
		if validJSON(e.State) {
			ct = esdb.ContentTypeJson
		}
		var meta []byte
		if i > 0 && sameMetadata(events[i-1].Metadata, e.Metadata) {
			meta = data[i-1].Metadata
		} else {
			meta = encodeMetadata(e.Metadata)
		}
		data[i] = esdb.EventData{EventID: uuid.New(), EventType: e.Topic, ContentType: ct, Data: e.State, Metadata: meta}
	}
	return data
}

// appendWithRetry appends, retrying transient failures with the same event
// ids, so an append whose answer was lost is recognised rather than
// repeated.
func (r *Recorder) appendWithRetry(ctx context.Context, stream string, exp esdb.ExpectedRevision, data []esdb.EventData) (*esdb.WriteResult, error) {
	var res *esdb.WriteResult
	err := r.retry(ctx, func() error {
		w, l, err := guard(ctx, r, func(ctx context.Context, cl *esdb.Client) (*esdb.WriteResult, error) {
			// Client v4.2.0 reads an append's header metadata after a
			// failed send while gRPC writes it from the goroutine that
			// watches the call's context: cancelling an append in flight
			// is a data race inside the client. So an append is not
			// cancelled by its caller; abandoned (its caller gone), it
			// ends by itself, within CallTimeout, or at Close. Its outcome
			// was unknown to that caller either way.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.callTimeout())
			defer cancel()
			// Close cancels it: once ctx has the cause Close gives it (so
			// the call fails as closed), or, for an append abandoned
			// before, at once.
			defer context.AfterFunc(ctx, func() {
				if errors.Is(context.Cause(ctx), errClosed) {
					cancel()
				}
			})()
			defer context.AfterFunc(r.closing, func() {
				if ctx.Err() != nil {
					cancel()
				}
			})()
			return cl.AppendToStream(actx, stream, esdb.AppendToStreamOptions{ExpectedRevision: exp}, data...)
		}, nil)
		if err == nil {
			l.end()
			res = w
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// retry runs op, retrying transient failures.
func (r *Recorder) retry(ctx context.Context, op func() error) error {
	for attempt := 0; ; attempt++ {
		err := op()
		if err == nil || ctx.Err() != nil || attempt >= r.opts.retries() || !r.canRetry(err) {
			return err
		}
		if r.pause(ctx, attempt) != nil {
			return err
		}
	}
}

// pause sleeps before retry attempt+1, or returns ctx's error.
func (r *Recorder) pause(ctx context.Context, attempt int) error {
	d := r.opts.retryDelay() << min(attempt, 6)
	return sleep(ctx, min(d, 2*time.Second))
}

// sleep waits for d, or returns ctx's error when it ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SelectEvents reads aggregate id's stream; see ports.AggregateRecorder.
// A tombstoned stream yields an error matching ErrStreamDeleted.
func (r *Recorder) SelectEvents(ctx context.Context, id uuid.UUID, q ports.EventQuery) iter.Seq2[ports.StoredEvent, error] {
	return func(yield func(ports.StoredEvent, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(ports.StoredEvent{}, err)
			return
		}
		if q.After != nil && *q.After >= ports.MaxVersion {
			return // no stored version is above it
		}
		opts := esdb.ReadStreamOptions{From: esdb.Start{}}
		if q.Desc {
			opts.Direction = esdb.Backwards
			opts.From = esdb.End{}
			// The server keeps revisions as signed numbers: one above
			// MaxVersion would read as negative, so such a bound reads
			// from the end, where it makes no difference.
			if q.Through != nil && *q.Through < ports.MaxVersion {
				opts.From = esdb.Revision(*q.Through)
			}
		} else if q.After != nil {
			opts.From = esdb.Revision(*q.After + 1)
		}
		count := uint64(math.MaxInt64)
		if q.Limit > 0 {
			count = uint64(q.Limit)
		}
		// Options.OperationTimeout bounds the read up to its first event;
		// after it, the caller's pace is not the server's fault.
		octx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		budget := time.AfterFunc(r.opts.operationTimeout(), func() { cancel(errOperationTimeout) })
		defer budget.Stop()
		for e, err := range r.readStream(octx, r.names.aggregate(id), opts, count) {
			budget.Stop()
			if err != nil {
				yield(ports.StoredEvent{}, wrap(ctx, "select events", id, err))
				return
			}
			v := e.EventNumber
			if q.Desc && q.After != nil && v <= *q.After {
				return
			}
			if !q.Desc && q.Through != nil && v > *q.Through {
				return
			}
			if !yield(ports.StoredEvent{OriginatorID: id, OriginatorVersion: v, Topic: e.EventType, State: e.Data,
				Metadata: decodeMetadata(e.UserMetadata)}, nil) {
				return
			}
		}
	}
}

// readStream yields the events of a stream read; a stream that does not
// exist yields nothing. Transient failures before the first event are
// retried.
func (r *Recorder) readStream(ctx context.Context, stream string, opts esdb.ReadStreamOptions, count uint64) iter.Seq2[*esdb.RecordedEvent, error] {
	return func(yield func(*esdb.RecordedEvent, error) bool) {
		for attempt := 0; ; attempt++ {
			rs, err := r.openRead(ctx, func(ctx context.Context, cl *esdb.Client) (*esdb.ReadStream, error) {
				return cl.ReadStream(ctx, stream, opts, count)
			})
			delivered := false
			if err == nil {
				err = func() error {
					defer rs.close()
					for {
						e, err := rs.recv()
						if errors.Is(err, io.EOF) {
							return nil
						}
						if err != nil {
							return err
						}
						delivered = true
						if !yield(e.Event, nil) {
							return errStop
						}
					}
				}()
			}
			switch {
			case err == nil || errors.Is(err, errStop) || isNotFound(err):
				return
			case !delivered && ctx.Err() == nil && attempt < r.opts.retries() && r.canRetry(err):
				if r.pause(ctx, attempt) == nil {
					continue
				}
			}
			yield(nil, err)
			return
		}
	}
}

// errStop marks a read the consumer ended.
var errStop = errors.New("stop")
