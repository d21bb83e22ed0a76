package esdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/google/uuid"
	v2errors "github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v2/errors"
	v2streamerrors "github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v2/streams/errors"
	v2 "github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v2/streams/streams"
	"golang.org/x/text/unicode/norm"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/streamwright/eventsourcing/ports"
)

// Multi-stream appends (KurrentDB 25.1 and later).
//
// KurrentDB 25.1 added the v2 streams service, whose AppendSession call
// takes one request per stream, each with its records and expected
// revision, and commits all of them or none. The official v4 client does
// not know it and the KurrentDB client cannot be linked beside it, so the
// recorder calls it over a gRPC connection of its own, with the generated
// v2 code of github.com/kurrent-io/KurrentDB-Client-Go v1.4.2 (its authors
// mark the v2 protocol unstable: the version is pinned on purpose). The
// connection is opened the way the $all filter reader's is (lastread.go):
// the configuration's TLS, root certificates, client certificate, keepalive
// and credentials; in a cluster, the leader that gossip names, looked up
// again after a transient failure or a not-leader answer.
//
// Whether the server has AppendSession is asked once, when the recorder is
// made (NewFromConfig): ServerFeatures.GetSupportedMethods lists it. The
// answer fixes the recorder's capabilities for its life. With it, a batch
// of several aggregates is one session, and a tracked write is one session
// holding the events and the tracking stream's commit record, appended at
// the tracking stream's expected revision: the claim, batch and commit of
// tracking.go are not needed. The tracking stream keeps the same records,
// so classic and multi-stream writers (say, during an upgrade) can share
// it: a claim a classic writer left is resolved before a session is sent.

// streamsService is the v2 service's full name, compared without regard to
// case (servers report it lower-cased).
var streamsService = v2.StreamsService_ServiceDesc.ServiceName

// detectSessions reports whether the server advertises AppendSession. A
// server that does not know ServerFeatures, or cannot be reached within
// the probe's time, is taken for one without it.
func (r *Recorder) detectSessions(ctx context.Context) (bool, error) {
	conn, err := r.v2.connection(ctx)
	if err != nil {
		return false, err
	}
	resp, err := serverfeatures.NewServerFeaturesClient(conn).GetSupportedMethods(ctx, &shared.Empty{}, r.v2.callOptions()...)
	if err != nil {
		return false, r.v2.failed(conn, err)
	}
	for _, m := range resp.GetMethods() {
		if strings.EqualFold(m.GetServiceName(), streamsService) && strings.EqualFold(m.GetMethodName(), "appendsession") {
			return true, nil
		}
	}
	return false, nil
}

// streamWrite is one stream's part of a session.
type streamWrite struct {
	stream   string
	expected int64 // the stream's last revision before the write; -1: no stream
	data     []esdb.EventData
	// id is the aggregate the stream belongs to; uuid.Nil for the
	// tracking stream.
	id uuid.UUID
}

func (w *streamWrite) request() (*v2.AppendRequest, error) {
	recs := make([]*v2.AppendRecord, len(w.data))
	var props map[string]*structpb.Value
	for i, d := range w.data {
		// The events of one save usually share their metadata: decoded
		// once, the properties are shared too (they are only read).
		if i == 0 || !bytes.Equal(d.Metadata, w.data[i-1].Metadata) {
			var err error
			if props, err = properties(d.Metadata); err != nil {
				return nil, err
			}
		}
		format := v2.SchemaFormat_SCHEMA_FORMAT_BYTES
		if d.ContentType == esdb.ContentTypeJson {
			format = v2.SchemaFormat_SCHEMA_FORMAT_JSON
		}
		id := d.EventID.String()
		recs[i] = &v2.AppendRecord{RecordId: &id, Properties: props, Data: d.Data,
			Schema: &v2.SchemaInfo{Format: format, Name: d.EventType}}
	}
	exp := w.expected
	if exp < 0 {
		exp = int64(v2.ExpectedRevisionConstants_EXPECTED_REVISION_CONSTANTS_NO_STREAM)
	}
	return &v2.AppendRequest{Stream: w.stream, Records: recs, ExpectedRevision: &exp}, nil
}

// properties returns an event's metadata JSON (an object of strings, see
// encodeMetadata) as a record's properties, which KurrentDB shows to
// classic readers as the same JSON object (plus its own "$schema." keys,
// which decodeMetadata leaves out).
func properties(meta []byte) (map[string]*structpb.Value, error) {
	props := map[string]*structpb.Value{}
	if len(meta) == 0 {
		return props, nil
	}
	var m map[string]string
	if err := json.Unmarshal(meta, &m); err != nil {
		return nil, err
	}
	for k, v := range m {
		props[k] = structpb.NewStringValue(v)
	}
	return props, nil
}

// sessionTopic reports whether a multi-stream append can store topic as
// its record's schema name: KurrentDB takes Unicode letters and digits,
// '_', '.', '$', ':' and '-', in normalisation form C. Other topics are
// stored with classic appends, one stream at a time.
func sessionTopic(topic string) bool {
	for _, c := range topic {
		switch {
		case unicode.IsLetter(c), unicode.IsNumber(c), strings.ContainsRune("_.$:-", c):
		default:
			return false
		}
	}
	return topic != "" && norm.NFC.IsNormalString(topic)
}

// sessionTopics reports whether every event's topic suits sessionTopic.
func sessionTopics(events []ports.StoredEvent) bool {
	for i := range events {
		if i > 0 && events[i].Topic == events[i-1].Topic {
			continue
		}
		if !sessionTopic(events[i].Topic) {
			return false
		}
	}
	return true
}

// appendSession makes one AppendSession call.
func (r *Recorder) appendSession(ctx context.Context, writes []streamWrite) (*v2.AppendSessionResponse, error) {
	reqs := make([]*v2.AppendRequest, len(writes))
	for i := range writes {
		req, err := writes[i].request()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ports.ErrInvalid, err)
		}
		reqs[i] = req
	}
	conn, err := r.v2.connection(ctx)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeoutCause(ctx, r.opts.callTimeout(), ErrStuck)
	defer cancel()
	defer context.AfterFunc(r.closing, cancel)()
	// gRPC replays the messages of a call it retries transparently (on a
	// new connection, when the old one dropped it unprocessed). A replay
	// of the requests sent before a failed Send, closed by a later
	// CloseSend, would commit part of the session: so no message is kept
	// for replay (the call is never retried by gRPC once a request is
	// sent), and a failed Send is never followed by CloseSend.
	opts := append(r.v2.callOptions(), grpc.MaxRetryRPCBufferSize(0))
	s, err := v2.NewStreamsServiceClient(conn).AppendSession(cctx, opts...)
	if err != nil {
		return nil, r.v2.failed(conn, r.sessionFailure(cctx, err))
	}
	for _, req := range reqs {
		if err := s.Send(req); err != nil {
			if errors.Is(err, io.EOF) {
				// The call has ended; RecvMsg returns its status.
				if err = s.RecvMsg(new(v2.AppendSessionResponse)); err == nil {
					err = io.ErrUnexpectedEOF
				}
			}
			return nil, r.v2.failed(conn, r.sessionFailure(cctx, err))
		}
	}
	resp, err := s.CloseAndRecv()
	if err != nil {
		return nil, r.v2.failed(conn, r.sessionFailure(cctx, err))
	}
	return resp, nil
}

// sessionFailure names why a call failed when the recorder cut it short.
func (r *Recorder) sessionFailure(ctx context.Context, err error) error {
	switch {
	case r.closed.Load():
		return fmt.Errorf("%w: %w", errClosed, err)
	case errors.Is(context.Cause(ctx), ErrStuck):
		return fmt.Errorf("%w: %w", ErrStuck, err)
	}
	return err
}

// sessionWithRetry sends writes as one session, retrying transient
// failures with the same record ids. A retry that meets a revision
// conflict may have met its own earlier attempt, committed with the answer
// lost: the first record is looked for where it would be, and found there
// the session counts as done (the response is then nil).
func (r *Recorder) sessionWithRetry(ctx context.Context, writes []streamWrite) (*v2.AppendSessionResponse, error) {
	var res *v2.AppendSessionResponse
	uncertain := false
	err := r.retry(ctx, func() error {
		resp, err := r.appendSession(ctx, writes)
		if err == nil {
			res = resp
			return nil
		}
		if uncertain && revisionConflict(err) != nil && ctx.Err() == nil {
			done, rerr := r.sessionStored(ctx, writes[0])
			if rerr != nil {
				return rerr
			}
			if done {
				return nil
			}
		}
		uncertain = uncertain || retryable(err)
		return err
	})
	return res, err
}

// sessionStored reports whether w's first record is stored where w put it.
func (r *Recorder) sessionStored(ctx context.Context, w streamWrite) (bool, error) {
	for e, err := range r.readStream(ctx, w.stream, esdb.ReadStreamOptions{From: esdb.Revision(uint64(w.expected + 1))}, 1) {
		if err != nil {
			return false, err
		}
		return e.EventID == w.data[0].EventID, nil
	}
	return false, nil
}

// revisionConflict returns the details of a session refused for a stream
// at another revision than expected, or nil.
func revisionConflict(err error) *v2streamerrors.StreamRevisionConflictErrorDetails {
	for _, d := range details(err) {
		if c, ok := d.(*v2streamerrors.StreamRevisionConflictErrorDetails); ok {
			return c
		}
	}
	return nil
}

// details returns the v2 error details err's gRPC status carries.
func details(err error) []any {
	s, ok := status.FromError(err)
	if !ok {
		return nil
	}
	return s.Details()
}

// v2Kind classifies an error of the v2 service by its details; nil when it
// has none this package knows.
func v2Kind(err error) error {
	for _, d := range details(err) {
		switch d.(type) {
		case *v2streamerrors.StreamRevisionConflictErrorDetails:
			return ports.ErrConcurrency
		case *v2streamerrors.StreamTombstonedErrorDetails, *v2streamerrors.StreamDeletedErrorDetails:
			return ErrStreamDeleted
		case *v2streamerrors.AppendRecordSizeExceededErrorDetails, *v2streamerrors.AppendTransactionSizeExceededErrorDetails:
			return ErrTooLarge
		case *v2streamerrors.StreamAlreadyInAppendSessionErrorDetails:
			return ports.ErrInvalid
		case *v2errors.NotLeaderNodeErrorDetails:
			return ErrNotLeader
		case *v2errors.AccessDeniedErrorDetails:
			return ErrAccessDenied
		}
	}
	return nil
}

// sessionConflict returns the concurrency error of op for the stream c
// names among writes.
func sessionConflict(op string, writes []streamWrite, c *v2streamerrors.StreamRevisionConflictErrorDetails, err error) error {
	w := writes[0]
	for _, x := range writes {
		if strings.EqualFold(x.stream, c.GetStream()) {
			w = x
			break
		}
	}
	actual := c.GetActualRevision()
	if actual < 0 {
		actual = ports.NoVersion
	}
	return &ports.Error{Op: op, OriginatorID: w.id, Expected: w.expected, Actual: actual,
		Err: fmt.Errorf("%w: %w", ports.ErrConcurrency, err)}
}

// groupWrites splits a batch into one write per aggregate (a session takes
// each stream once) and returns, for each event, its write and its place
// in it. The writes are ordered by the place of their aggregate's last
// event in the batch, so that a batch that does not interleave its
// aggregates reaches the log in batch order, and the batch's last event is
// the session's last record whatever the batch.
func (r *Recorder) groupWrites(events []ports.StoredEvent, data []esdb.EventData) ([]streamWrite, []eventPlace) {
	index := map[uuid.UUID]int{}
	var writes []streamWrite
	var last []int // index in the batch of each write's last event
	for i, e := range events {
		w, ok := index[e.OriginatorID]
		if !ok {
			w = len(writes)
			index[e.OriginatorID] = w
			writes = append(writes, streamWrite{stream: r.names.aggregate(e.OriginatorID), id: e.OriginatorID,
				expected: int64(e.OriginatorVersion) - 1})
			last = append(last, 0)
		}
		writes[w].data = append(writes[w].data, data[i])
		last[w] = i
	}
	order := make([]int, len(writes))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return last[a] - last[b] })
	sorted := make([]streamWrite, len(writes))
	at := make([]int, len(writes)) // the sorted place of each write
	for k, w := range order {
		sorted[k] = writes[w]
		at[w] = k
	}
	places := make([]eventPlace, len(events))
	seen := make([]int, len(writes))
	for i, e := range events {
		w := index[e.OriginatorID]
		places[i] = eventPlace{write: at[w], offset: seen[w]}
		seen[w]++
	}
	return sorted, places
}

// eventPlace is where a batch's event is among a session's writes.
type eventPlace struct{ write, offset int }

// errSessionTopic refuses a multi-aggregate batch with a topic that a
// multi-stream append cannot store.
func errSessionTopic(op string, events []ports.StoredEvent) error {
	for _, e := range events {
		if !sessionTopic(e.Topic) {
			return &ports.Error{Op: op, OriginatorID: e.OriginatorID, Expected: ports.NoVersion, Actual: ports.NoVersion,
				Err: fmt.Errorf("%w: %w: topic %q cannot be stored by a multi-stream append (KurrentDB takes letters, digits, '_', '.', '$', ':' and '-' only), and the aggregates of a batch are stored together only that way", ports.ErrNotSupported, ports.ErrInvalid, e.Topic)}
		}
	}
	return nil
}

// insertSession stores a batch of several aggregates with one session.
func (r *Recorder) insertSession(ctx context.Context, events []ports.StoredEvent) ([]uint64, error) {
	if err := errSessionTopic(opInsert, events); err != nil {
		return nil, err
	}
	writes, places := r.groupWrites(events, toEventData(events))
	octx, cancel := r.bound(ctx)
	defer cancel()
	res, err := r.sessionWithRetry(octx, writes)
	if err != nil {
		if c := revisionConflict(err); c != nil && ctx.Err() == nil {
			return nil, sessionConflict(opInsert, writes, c, err)
		}
		return nil, wrap(ctx, opInsert, events[0].OriginatorID, err)
	}
	return r.sessionIDs(octx, writes, places, res, !r.opts.EveryNotificationID)
}

// sessionIDs returns the notification ids of a batch's events, in batch
// order (places: see groupWrites), or with lastOnly that of the last event
// only, the session's last record: the session's position when its answer
// arrived, else read back.
func (r *Recorder) sessionIDs(ctx context.Context, writes []streamWrite, places []eventPlace, res *v2.AppendSessionResponse, lastOnly bool) ([]uint64, error) {
	var last uint64
	if res != nil && res.GetPosition() > 0 {
		last = uint64(res.GetPosition())
	}
	if lastOnly {
		w := writes[len(writes)-1]
		return r.lastEventID(ctx, w.stream, w.id, uint64(w.expected+int64(len(w.data))), last)
	}
	byWrite := make([][]uint64, len(writes))
	for i, w := range writes {
		known := uint64(0)
		if i == len(writes)-1 {
			known = last
		}
		got, err := r.positions(ctx, w.stream, w.id, uint64(w.expected+1), len(w.data), known)
		if err != nil {
			return nil, err
		}
		byWrite[i] = got
	}
	ids := make([]uint64, len(places))
	for i, p := range places {
		ids[i] = byWrite[p.write][p.offset]
	}
	return ids, nil
}

// insertWithTrackingSession stores events and the tracking of t with one
// session: the events' streams at their expected revisions and the
// tracking stream's commit record at the revision it was read at, so that
// a concurrent tracked write makes it fail and the check run again. With
// previous, only while the tracking is exactly *previous.
func (r *Recorder) insertWithTrackingSession(ctx context.Context, events []ports.StoredEvent, t ports.Tracking, previous *uint64) ([]uint64, error) {
	caller := ctx
	ctx, cancel := r.bound(ctx)
	defer cancel()
	stream := r.names.tracking(t.ApplicationName)
	var id uuid.UUID
	var writes []streamWrite
	var places []eventPlace
	if len(events) > 0 {
		id = events[0].OriginatorID
		writes, places = r.groupWrites(events, toEventData(events))
	}
	rec, err := json.Marshal(trackingRecord{Kind: kindCommit, ID: t.NotificationID, Max: t.NotificationID})
	if err != nil {
		return nil, err
	}
	// One id for every attempt: a retry of a session whose answer was lost
	// is recognised, never stored twice.
	track := esdb.EventData{EventID: uuid.New(), EventType: trackingEventType, ContentType: esdb.ContentTypeJson, Data: rec}
	writes = append(writes, streamWrite{stream: stream, data: []esdb.EventData{track}})
	for attempt := 0; ; attempt++ {
		// The tracking stream as this recorder last wrote or read it saves
		// a read per write; if another writer moved it since, the session
		// fails on its expected revision and the next round reads it.
		st, cached := r.trackingState(stream)
		if !cached || attempt > 0 {
			rev, last, err := r.settled(ctx, stream)
			if err != nil {
				return nil, wrap(caller, opInsertTracking, id, err)
			}
			st, cached = trackState{rev: rev, max: last.Max}, false
		}
		if (previous != nil && st.max != *previous) || t.NotificationID <= st.max {
			switch {
			case cached:
				continue // perhaps out of date: look again
			case previous != nil && st.max != *previous:
				return nil, ports.TrackingMovedError(id, t.ApplicationName, *previous, st.max)
			}
			return nil, ports.Errorf(opInsertTracking, id, ports.ErrIntegrity,
				"application %q is tracked at notification %d already; %d is not newer", t.ApplicationName, st.max, t.NotificationID)
		}
		writes[len(writes)-1].expected = st.rev
		if _, err := r.sessionWithRetry(ctx, writes); err != nil {
			r.forgetTracking(stream)
			c := revisionConflict(err)
			switch {
			case c == nil || caller.Err() != nil:
				return nil, wrap(caller, opInsertTracking, id, err)
			case (cached || strings.EqualFold(c.GetStream(), stream)) && attempt < 100:
				// Another processor wrote first, or the tracking known
				// here was out of date: look again.
				continue
			}
			return nil, sessionConflict(opInsert, writes, c, err)
		}
		r.rememberTracking(stream, trackState{rev: st.rev + 1, max: t.NotificationID})
		if len(events) == 0 || !r.opts.EveryNotificationID {
			return nil, nil
		}
		// The session's position is the tracking record's, not an event's.
		ids, err := r.sessionIDs(ctx, writes[:len(writes)-1], places, nil, false)
		if err != nil {
			return nil, wrap(caller, opInsertTracking, id, err)
		}
		return ids, nil
	}
}

// trackState is a tracking stream's last revision and tracked id.
type trackState struct {
	rev int64
	max uint64
}

// trackingState returns the state of the tracking stream that this
// recorder last wrote or read, if it knows one.
func (r *Recorder) trackingState(stream string) (trackState, bool) {
	r.trackMu.Lock()
	defer r.trackMu.Unlock()
	st, ok := r.tracks[stream]
	return st, ok
}

// rememberTracking records the state of a tracking stream that a session
// wrote or a read found; only multi-stream writes use it, and only as a
// guess that the stream's expected revision checks.
func (r *Recorder) rememberTracking(stream string, st trackState) {
	if !r.sessions {
		return
	}
	r.trackMu.Lock()
	defer r.trackMu.Unlock()
	if r.tracks == nil {
		r.tracks = map[string]trackState{}
	}
	if old, ok := r.tracks[stream]; !ok || st.rev > old.rev {
		r.tracks[stream] = st
	}
}

func (r *Recorder) forgetTracking(stream string) {
	r.trackMu.Lock()
	defer r.trackMu.Unlock()
	delete(r.tracks, stream)
}
