package esdbtest

import (
	"context"
	"errors"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// streamsService implements the Streams gRPC service over a store.
type streamsService struct {
	api.UnimplementedStreamsServer
	srv *Server
}

func (s *streamsService) store() *store { return s.srv.store }

func parseID(u *shared.UUID) (uuid.UUID, bool) {
	if u == nil {
		return uuid.Nil, false
	}
	if st := u.GetStructured(); st != nil {
		var id uuid.UUID
		m, l := uint64(st.MostSignificantBits), uint64(st.LeastSignificantBits)
		for i := range 8 {
			id[i] = byte(m >> (56 - 8*i))
			id[8+i] = byte(l >> (56 - 8*i))
		}
		return id, true
	}
	id, err := uuid.Parse(u.GetString_())
	return id, err == nil
}

// proposal validates one proposed message.
func proposal(id *shared.UUID, md map[string]string, custom, data []byte) (proposed, error) {
	typ, okType := md["type"]
	ct, okCT := md["content-type"]
	switch {
	case !okType:
		return proposed{}, missingMetadata("type")
	case !okCT:
		return proposed{}, missingMetadata("content-type")
	}
	eid, ok := parseID(id)
	if !ok {
		return proposed{}, errors.New("invalid event id")
	}
	if ct != contentJSON {
		ct = contentBinary
	}
	return proposed{id: eid, eventType: typ, contentType: ct, data: data, meta: custom}, nil
}

// missingMetadata is the name of a required metadata property that a
// proposed message lacks.
type missingMetadata string

func (m missingMetadata) Error() string {
	return "Required Metadata Property '" + string(m) + "' is missing"
}

func eventSize(typ string, custom, data []byte) int { return len(data) + len(custom) + 2*len(typ) }

// Append appends the events of a client-streaming request. It reads the
// whole request before answering, because an early answer turns the client's
// next Send into io.EOF and the status would be lost.
func (s *streamsService) Append(srv api.Streams_AppendServer) error {
	var (
		name    string
		exp     expectation
		evs     []proposed
		size    int
		bad     error
		started bool
	)
	for {
		req, err := srv.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if o := req.GetOptions(); o != nil && !started {
			started = true
			name = string(o.GetStreamIdentifier().GetStreamName())
			switch e := o.ExpectedStreamRevision.(type) {
			case *api.AppendReq_Options_Revision:
				exp = expectation{kind: expectRevision, revision: e.Revision}
			case *api.AppendReq_Options_NoStream:
				exp = expectation{kind: expectNoStream}
			case *api.AppendReq_Options_StreamExists:
				exp = expectation{kind: expectStreamExists}
			case *api.AppendReq_Options_Any:
			default:
				bad = invalid(srv, noExpectation("AppendReq"))
			}
			continue
		}
		m := req.GetProposedMessage()
		if m == nil || !started {
			bad = invalid(srv, "the first message of an append must be its options, the rest proposed messages")
			continue
		}
		p, err := proposal(m.Id, m.Metadata, m.CustomMetadata, m.Data)
		var missing missingMetadata
		if errors.As(err, &missing) && bad == nil {
			bad = fail(srv, codes.InvalidArgument, missing.Error(),
				"exception", "missing-required-metadata-property", "required-metadata-properties", "type,content-type")
		} else if err != nil && bad == nil {
			bad = invalid(srv, err.Error())
		}
		size += eventSize(p.eventType, m.CustomMetadata, m.Data)
		evs = append(evs, p)
	}
	if bad != nil {
		return bad
	}
	if name == "" {
		return invalid(srv, "a stream name is required")
	}
	if limit := s.srv.maxAppendSize(); size > limit {
		return fail(srv, codes.InvalidArgument, "Maximum Append Size of "+strconv.Itoa(limit)+" Exceeded.",
			"exception", "maximum-append-size-exceeded", "maximum-append-size", strconv.Itoa(limit))
	}
	out := s.store().appendEvents(name, exp, evs)
	if out.deleted {
		return streamDeleted(srv, name)
	}
	if err := s.srv.faults.lostAnswer(); err != nil {
		return err
	}
	if out.wrong != nil {
		return srv.SendAndClose(&api.AppendResp{Result: &api.AppendResp_WrongExpectedVersion_{
			WrongExpectedVersion: appendWrongVersion(out.wrong)}})
	}
	return srv.SendAndClose(&api.AppendResp{Result: &api.AppendResp_Success_{Success: appendSuccess(out.ok)}})
}

func appendSuccess(r *appendResult) *api.AppendResp_Success {
	ok := &api.AppendResp_Success{}
	if r.revision < 0 {
		ok.CurrentRevisionOption = &api.AppendResp_Success_NoStream{NoStream: &shared.Empty{}}
	} else {
		ok.CurrentRevisionOption = &api.AppendResp_Success_CurrentRevision{CurrentRevision: uint64(r.revision)}
	}
	if r.hasPosition {
		ok.PositionOption = &api.AppendResp_Success_Position{Position: &api.AppendResp_Position{
			CommitPosition: r.position, PreparePosition: r.position}}
	} else {
		ok.PositionOption = &api.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}}
	}
	return ok
}

// appendWrongVersion fills both the current and the legacy 20.6.0 fields.
func appendWrongVersion(w *wrongVersion) *api.AppendResp_WrongExpectedVersion {
	e := &api.AppendResp_WrongExpectedVersion{}
	if w.current < 0 {
		e.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
		e.CurrentRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_NoStream_20_6_0{NoStream_20_6_0: &shared.Empty{}}
	} else {
		e.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: uint64(w.current)}
		e.CurrentRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_CurrentRevision_20_6_0{CurrentRevision_20_6_0: uint64(w.current)}
	}
	switch w.expected.kind {
	case expectAny:
		e.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: &shared.Empty{}}
		e.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_Any_20_6_0{Any_20_6_0: &shared.Empty{}}
	case expectNoStream:
		e.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
		// 20.6.0 had no "no stream" expectation; it reported revision -1.
		e.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: math.MaxUint64}
	case expectStreamExists:
		e.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
		e.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_StreamExists_20_6_0{StreamExists_20_6_0: &shared.Empty{}}
	case expectRevision:
		e.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: w.expected.revision}
		e.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: w.expected.revision}
	}
	return e
}

// deleteExpectation reads the expected revision option of a delete or
// tombstone; false when the request has none.
func deleteExpectation(opt any) (expectation, bool) {
	switch e := opt.(type) {
	case *api.DeleteReq_Options_Revision:
		return expectation{kind: expectRevision, revision: e.Revision}, true
	case *api.DeleteReq_Options_NoStream:
		return expectation{kind: expectNoStream}, true
	case *api.DeleteReq_Options_StreamExists:
		return expectation{kind: expectStreamExists}, true
	case *api.DeleteReq_Options_Any:
		return expectation{kind: expectAny}, true
	case *api.TombstoneReq_Options_Revision:
		return expectation{kind: expectRevision, revision: e.Revision}, true
	case *api.TombstoneReq_Options_NoStream:
		return expectation{kind: expectNoStream}, true
	case *api.TombstoneReq_Options_StreamExists:
		return expectation{kind: expectStreamExists}, true
	case *api.TombstoneReq_Options_Any:
		return expectation{kind: expectAny}, true
	}
	return expectation{}, false
}

// noExpectation is the server's message for a request of type req that
// sets no expected revision: it assumes none, it refuses the request.
func noExpectation(req string) string {
	return "'None' is not a valid EventStore.Client.Streams." + req + "+Types+Options+ExpectedStreamRevisionOneofCase"
}

// Delete soft-deletes a stream.
func (s *streamsService) Delete(ctx context.Context, req *api.DeleteReq) (*api.DeleteResp, error) {
	pos, err := s.remove(ctx, "DeleteReq", req.GetOptions().GetStreamIdentifier().GetStreamName(),
		req.GetOptions().GetExpectedStreamRevision(), s.store().softDelete)
	if err != nil {
		return nil, err
	}
	return &api.DeleteResp{PositionOption: &api.DeleteResp_Position_{Position: &api.DeleteResp_Position{
		CommitPosition: pos, PreparePosition: pos}}}, nil
}

// Tombstone deletes a stream for good.
func (s *streamsService) Tombstone(ctx context.Context, req *api.TombstoneReq) (*api.TombstoneResp, error) {
	pos, err := s.remove(ctx, "TombstoneReq", req.GetOptions().GetStreamIdentifier().GetStreamName(),
		req.GetOptions().GetExpectedStreamRevision(), s.store().tombstone)
	if err != nil {
		return nil, err
	}
	return &api.TombstoneResp{PositionOption: &api.TombstoneResp_Position_{Position: &api.TombstoneResp_Position{
		CommitPosition: pos, PreparePosition: pos}}}, nil
}

// remove runs a delete or tombstone (request type req) of stream name under
// the expected revision option exp, and returns its log position or the
// status error the client expects.
func (s *streamsService) remove(ctx context.Context, req string, name []byte, exp any, op func(string, expectation) deleteOutcome) (uint64, error) {
	t := ctxTrailer{ctx}
	if len(name) == 0 {
		return 0, invalid(t, "a stream name is required")
	}
	e, ok := deleteExpectation(exp)
	if !ok {
		return 0, invalid(t, noExpectation(req))
	}
	out := op(string(name), e)
	switch {
	case out.deleted:
		return 0, streamDeleted(t, string(name))
	case out.wrong != nil:
		return 0, deleteWrongVersion(t, string(name), out.wrong)
	}
	return out.position, nil
}

// BatchAppend appends batches sent on a bidirectional stream. Each request
// carries a correlation id; the one with is_final set commits the batch
// assembled from it and the earlier requests with the same id. A failed
// batch is answered in its response (see batchError); the call goes on.
func (s *streamsService) BatchAppend(srv api.Streams_BatchAppendServer) error {
	type pending struct {
		name     string
		exp      expectation
		opts     *api.BatchAppendReq_Options
		deadline time.Time
		evs      []proposed
		size     int
		bad      string
		noExp    bool // options without an expected position
		answered bool // refused before its last request
	}
	denied := accessDenied(srv.Context())
	batches := map[uuid.UUID]*pending{}
	for {
		req, err := srv.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		corr, _ := parseID(req.CorrelationId)
		p := batches[corr]
		if p == nil {
			p = &pending{}
			batches[corr] = p
		}
		if o := req.GetOptions(); o != nil && p.opts == nil {
			p.opts = o
			p.name = string(o.GetStreamIdentifier().GetStreamName())
			p.deadline = batchDeadline(o)
			switch e := o.ExpectedStreamPosition.(type) {
			case *api.BatchAppendReq_Options_StreamPosition:
				p.exp = expectation{kind: expectRevision, revision: e.StreamPosition}
			case *api.BatchAppendReq_Options_NoStream:
				p.exp = expectation{kind: expectNoStream}
			case *api.BatchAppendReq_Options_StreamExists:
				p.exp = expectation{kind: expectStreamExists}
			case *api.BatchAppendReq_Options_Any:
			default:
				p.noExp = true
			}
		}
		if p.answered {
			if req.IsFinal {
				delete(batches, corr)
			}
			continue
		}
		// The server refuses a batch as soon as it knows the answer
		// (denied, no time left, too large), without waiting for its last
		// request, and ignores the rest of it.
		refuse := func(st *status.Status) error {
			p.answered, p.evs = true, nil
			if req.IsFinal {
				delete(batches, corr)
			}
			return srv.Send(&api.BatchAppendResp{CorrelationId: req.CorrelationId,
				StreamIdentifier: p.opts.GetStreamIdentifier(), Result: &api.BatchAppendResp_Error{Error: st}})
		}
		if req.GetOptions() != nil && p.opts == req.GetOptions() {
			var st *status.Status
			switch {
			case denied:
				st = batchAccessDenied()
			case p.opts.StreamIdentifier == nil:
				st = batchBadRequest(msgNoStreamIdentifier)
			case !time.Now().Before(p.deadline):
				st = batchTimeout()
			case p.noExp:
				st = batchBadRequest("'None' is not a valid EventStore.Client.Streams.BatchAppendReq+Types+Options+ExpectedStreamPositionOneofCase")
			}
			if st != nil {
				if err := refuse(st); err != nil {
					return err
				}
				continue
			}
		}
		for _, m := range req.ProposedMessages {
			e, err := proposal(m.Id, m.Metadata, m.CustomMetadata, m.Data)
			if err != nil && p.bad == "" {
				p.bad = err.Error()
			}
			p.size += eventSize(e.eventType, m.CustomMetadata, m.Data)
			p.evs = append(p.evs, e)
		}
		if limit := s.srv.maxAppendSize(); p.opts != nil && p.size > limit {
			if err := refuse(batchMaxAppendSize(limit)); err != nil {
				return err
			}
			continue
		}
		if !req.IsFinal {
			continue
		}
		delete(batches, corr)
		// The server names the stream in every answer but never fills
		// expected_stream_position: clients must not rely on it.
		resp := &api.BatchAppendResp{CorrelationId: req.CorrelationId, StreamIdentifier: p.opts.GetStreamIdentifier()}
		if p.opts != nil && !time.Now().Before(p.deadline) {
			// The server's timer answers at the deadline itself; here
			// the batch's last request finds it passed.
			resp.Result = &api.BatchAppendResp_Error{Error: batchTimeout()}
		} else {
			s.batchResult(resp, p.name, p.exp, p.evs, p.bad, p.opts == nil)
		}
		if err := srv.Send(resp); err != nil {
			return err
		}
	}
}

// batchDeadline is when the batch of o must be committed by: the server
// takes the earlier of the client's deadline (a duration in current
// clients, a point in time in 21.10 ones) and its own write timeout, and a
// batch still open at that moment fails with Timeout.
func batchDeadline(o *api.BatchAppendReq_Options) time.Time {
	now := time.Now()
	d := batchWriteTimeout
	switch x := o.DeadlineOption.(type) {
	case *api.BatchAppendReq_Options_Deadline:
		d = min(d, x.Deadline.AsDuration())
	case *api.BatchAppendReq_Options_Deadline_21_10_0:
		d = min(d, x.Deadline_21_10_0.AsTime().Sub(now))
	}
	return now.Add(d)
}

// batchWriteTimeout is the server's default write timeout (2 s).
const batchWriteTimeout = 2 * time.Second

const msgNoStreamIdentifier = "Required field StreamIdentifier not set."

// batchResult commits one assembled batch, which is within the size limit,
// and sets resp's result.
func (s *streamsService) batchResult(resp *api.BatchAppendResp, name string, exp expectation, evs []proposed, bad string, noOptions bool) {
	fail := func(st *status.Status) { resp.Result = &api.BatchAppendResp_Error{Error: st} }
	switch {
	case noOptions || name == "":
		fail(batchBadRequest(msgNoStreamIdentifier))
		return
	case bad != "":
		fail(batchBadRequest(bad))
		return
	}
	out := s.store().appendEvents(name, exp, evs)
	switch {
	case out.deleted:
		fail(batchStreamDeleted(name))
		return
	case out.wrong != nil:
		fail(batchWrongVersion(out.wrong))
		return
	}
	ok := &api.BatchAppendResp_Success{}
	if out.ok.revision < 0 {
		ok.CurrentRevisionOption = &api.BatchAppendResp_Success_NoStream{NoStream: &emptypb.Empty{}}
	} else {
		ok.CurrentRevisionOption = &api.BatchAppendResp_Success_CurrentRevision{CurrentRevision: uint64(out.ok.revision)}
	}
	if out.ok.hasPosition {
		ok.PositionOption = &api.BatchAppendResp_Success_Position{Position: &shared.AllStreamPosition{
			CommitPosition: out.ok.position, PreparePosition: out.ok.position}}
	} else {
		ok.PositionOption = &api.BatchAppendResp_Success_NoPosition{NoPosition: &emptypb.Empty{}}
	}
	resp.Result = &api.BatchAppendResp_Success_{Success: ok}
}

// filter is a server-side $all filter on stream names or event types.
type filter struct {
	onType   bool
	re       *regexp.Regexp
	prefixes []string
}

func newFilter(o *api.ReadReq_Options_FilterOptions) (*filter, error) {
	f := &filter{}
	var ex *api.ReadReq_Options_FilterOptions_Expression
	switch x := o.Filter.(type) {
	case *api.ReadReq_Options_FilterOptions_EventType:
		f.onType, ex = true, x.EventType
	case *api.ReadReq_Options_FilterOptions_StreamIdentifier:
		ex = x.StreamIdentifier
	default:
		return nil, errors.New("a filter needs a stream identifier or event type expression")
	}
	if ex.GetRegex() != "" {
		re, err := regexp.Compile(ex.GetRegex())
		if err != nil {
			return nil, err
		}
		f.re = re
	} else {
		f.prefixes = ex.GetPrefix()
	}
	return f, nil
}

func (f *filter) match(r *record) bool {
	if f == nil {
		return true
	}
	s := r.stream
	if f.onType {
		s = r.eventType
	}
	if f.re != nil {
		return f.re.MatchString(s)
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// Read serves stream and $all reads and subscriptions.
func (s *streamsService) Read(req *api.ReadReq, srv api.Streams_ReadServer) error {
	o := req.GetOptions()
	if o == nil {
		return invalid(srv, "read options are required")
	}
	structured := o.GetUuidOption().GetString_() == nil
	var f *filter
	if fo := o.GetFilter(); fo != nil {
		var err error
		if f, err = newFilter(fo); err != nil {
			return invalid(srv, "invalid filter: "+err.Error())
		}
	}
	backwards := o.ReadDirection == api.ReadReq_Options_Backwards
	if _, ok := o.CountOption.(*api.ReadReq_Options_Subscription); ok {
		s.srv.subscriptions.Add(1)
		defer s.srv.subscriptions.Add(-1)
		if err := s.srv.faults.waitSubscribe(srv.Context()); err != nil {
			return err
		}
	}
	switch so := o.StreamOption.(type) {
	case *api.ReadReq_Options_Stream:
		if f != nil {
			return invalid(srv, "stream reads take no filter")
		}
		name := string(so.Stream.GetStreamIdentifier().GetStreamName())
		switch co := o.CountOption.(type) {
		case *api.ReadReq_Options_Count:
			return s.readStream(srv, name, so.Stream, backwards, co.Count, structured)
		case *api.ReadReq_Options_Subscription:
			if backwards {
				return invalid(srv, "subscriptions read forwards")
			}
			return s.subscribeStream(srv, name, so.Stream, structured)
		}
	case *api.ReadReq_Options_All:
		switch co := o.CountOption.(type) {
		case *api.ReadReq_Options_Count:
			return s.readAll(srv, so.All, backwards, co.Count, f, structured)
		case *api.ReadReq_Options_Subscription:
			if backwards {
				return invalid(srv, "subscriptions read forwards")
			}
			return s.subscribeAll(srv, so.All, f, o.GetFilter(), structured)
		}
	}
	return invalid(srv, "a read needs a stream or $all, and a count or a subscription")
}

// eventResp builds the read response of r. Responses are built per read
// rather than kept, so that the log costs no more memory than its records
// however many readers have gone through it.
func (s *streamsService) eventResp(r *record, structured bool) *api.ReadResp {
	s.srv.recordsSent.Add(1)
	return r.readResp(structured)
}

func notFound(name string) *api.ReadResp {
	return &api.ReadResp{Content: &api.ReadResp_StreamNotFound_{StreamNotFound: &api.ReadResp_StreamNotFound{
		StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)}}}}
}

func (s *streamsService) readStream(srv api.Streams_ReadServer, name string, so *api.ReadReq_Options_StreamOptions, backwards bool, count uint64, structured bool) error {
	if name == "" {
		return invalid(srv, "a stream name is required")
	}
	v := s.store().view(name)
	if v.tombstoned {
		return streamDeleted(srv, name)
	}
	if !v.exists {
		return srv.Send(notFound(name))
	}
	var from int64
	switch x := so.RevisionOption.(type) {
	case *api.ReadReq_Options_StreamOptions_Revision:
		from = int64(min(x.Revision, math.MaxInt64))
	case *api.ReadReq_Options_StreamOptions_End:
		from = v.hi
		if backwards {
			from = v.hi - 1
		}
	}
	sent := uint64(0)
	step := int64(1)
	if backwards {
		step = -1
		from = min(from, v.hi-1)
	}
	ctx := srv.Context()
	for i := from; i >= 0 && i < v.hi && sent < count; i += step {
		if backwards && i < v.lo {
			break
		}
		if !v.visible(i) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return grpcstatus.FromContextError(err).Err()
		}
		if err := srv.Send(s.eventResp(v.events[i], structured)); err != nil {
			return err
		}
		sent++
	}
	return nil
}

func (s *streamsService) readAll(srv api.Streams_ReadServer, ao *api.ReadReq_Options_AllOptions, backwards bool, count uint64, f *filter, structured bool) error {
	log, _ := s.store().snapshot()
	var i int
	switch x := ao.AllOption.(type) {
	case *api.ReadReq_Options_AllOptions_Position:
		p := x.Position
		if p.CommitPosition < p.PreparePosition {
			return invalid(srv, "a position's commit must not be below its prepare")
		}
		i = indexAtOrAfter(log, p.CommitPosition)
		if backwards {
			i-- // backwards from p excludes p
		}
	case *api.ReadReq_Options_AllOptions_End:
		i = len(log)
		if backwards {
			i = len(log) - 1
		}
	default: // start
		i = 0
		if backwards {
			i = -1
		}
	}
	step := 1
	if backwards {
		step = -1
	}
	ctx := srv.Context()
	for sent := uint64(0); i >= 0 && i < len(log) && sent < count; i += step {
		r := log[i]
		if !f.match(r) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return grpcstatus.FromContextError(err).Err()
		}
		if err := srv.Send(s.eventResp(r, structured)); err != nil {
			return err
		}
		sent++
	}
	return nil
}

func confirmation() *api.ReadResp {
	return &api.ReadResp{Content: &api.ReadResp_Confirmation{Confirmation: &api.ReadResp_SubscriptionConfirmation{
		SubscriptionId: uuid.NewString()}}}
}

var caughtUp = &api.ReadResp{Content: &api.ReadResp_CaughtUp_{CaughtUp: &api.ReadResp_CaughtUp{}}}

func checkpoint(pos uint64) *api.ReadResp {
	return &api.ReadResp{Content: &api.ReadResp_Checkpoint_{Checkpoint: &api.ReadResp_Checkpoint{
		CommitPosition: pos, PreparePosition: pos}}}
}

// subscribeStream follows one stream: catch-up from the start point, then
// live. A stream that does not exist yet is followed until it does.
func (s *streamsService) subscribeStream(srv api.Streams_ReadServer, name string, so *api.ReadReq_Options_StreamOptions, structured bool) error {
	if name == "" {
		return invalid(srv, "a stream name is required")
	}
	v := s.store().view(name)
	if v.tombstoned {
		return streamDeleted(srv, name)
	}
	var next int64 // revision of the next event to deliver
	switch x := so.RevisionOption.(type) {
	case *api.ReadReq_Options_StreamOptions_Revision:
		next = int64(min(x.Revision, math.MaxInt64-1)) + 1
	case *api.ReadReq_Options_StreamOptions_End:
		next = v.hi
	}
	next = max(next, v.lo)
	if err := srv.Send(confirmation()); err != nil {
		return err
	}
	ctx := srv.Context()
	caught := false
	for {
		events, tombstoned, changed := s.store().streamSnapshot(name)
		for ; next < int64(len(events)); next++ {
			if err := ctx.Err(); err != nil {
				return grpcstatus.FromContextError(err).Err()
			}
			if err := srv.Send(s.eventResp(events[next], structured)); err != nil {
				return err
			}
		}
		if tombstoned {
			return streamDeleted(srv, name)
		}
		if !caught {
			caught = true
			if err := s.sendCaughtUp(srv); err != nil {
				return err
			}
		}
		if err := waitChange(ctx, changed); err != nil {
			return err
		}
	}
}

// subscribeAll follows $all, optionally filtered, with checkpoints every
// window*multiplier considered records and at the end of catch-up.
func (s *streamsService) subscribeAll(srv api.Streams_ReadServer, ao *api.ReadReq_Options_AllOptions, f *filter, fo *api.ReadReq_Options_FilterOptions, structured bool) error {
	log, _ := s.store().snapshot()
	var next int
	var lastPos uint64
	switch x := ao.AllOption.(type) {
	case *api.ReadReq_Options_AllOptions_Position:
		p := x.Position
		if p.CommitPosition < p.PreparePosition {
			return invalid(srv, "a position's commit must not be below its prepare")
		}
		next = len(log) // 2^64-1 is End
		if p.CommitPosition < math.MaxUint64 {
			next = indexAtOrAfter(log, p.CommitPosition+1) // exclusive
		}
		lastPos = p.CommitPosition
	case *api.ReadReq_Options_AllOptions_End:
		next = len(log)
		if next > 0 {
			lastPos = log[next-1].pos
		}
	}
	interval := 0
	if f != nil {
		window := 1
		if m, ok := fo.Window.(*api.ReadReq_Options_FilterOptions_Max); ok && m.Max > 0 {
			window = int(m.Max)
		}
		interval = window * int(max(fo.CheckpointIntervalMultiplier, 1))
	}
	if err := srv.Send(confirmation()); err != nil {
		return err
	}
	ctx := srv.Context()
	caught := false
	considered := 0
	for {
		log, changed := s.store().snapshot()
		for ; next < len(log); next++ {
			r := log[next]
			if err := ctx.Err(); err != nil {
				return grpcstatus.FromContextError(err).Err()
			}
			if f.match(r) {
				if f != nil {
					if early, fail := s.srv.faults.earlyCheckpoint(); early {
						if err := srv.Send(checkpoint(r.pos)); err != nil {
							return err
						}
						if fail {
							return errEarlyCheckpointBreak
						}
					}
				}
				if err := srv.Send(s.eventResp(r, structured)); err != nil {
					return err
				}
			}
			lastPos = r.pos
			if considered++; interval > 0 && considered%interval == 0 {
				if err := srv.Send(checkpoint(lastPos)); err != nil {
					return err
				}
			}
		}
		if !caught {
			caught = true
			if f != nil {
				if err := srv.Send(checkpoint(lastPos)); err != nil {
					return err
				}
			}
			if err := s.sendCaughtUp(srv); err != nil {
				return err
			}
		}
		if err := waitChange(ctx, changed); err != nil {
			return err
		}
	}
}

// sendCaughtUp tells a subscriber that catch-up is over, when the server
// speaks a version that sends caught_up.
func (s *streamsService) sendCaughtUp(srv api.Streams_ReadServer) error {
	if !s.srv.sendsCaughtUp() {
		return nil
	}
	return srv.Send(caughtUp)
}

// waitChange blocks a live subscription until the store changes (nil) or
// its call ends (the call's status).
func waitChange(ctx context.Context, changed <-chan struct{}) error {
	select {
	case <-changed:
		return nil
	case <-ctx.Done():
		return grpcstatus.FromContextError(ctx.Err()).Err()
	}
}
