package esdbtest

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"
	servererrors "github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v2/errors"
	v2errors "github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v2/streams/errors"
	v2 "github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v2/streams/streams"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Profile selects which server generation a Server behaves as.
type Profile string

const (
	// ProfileEventStoreDB, the zero value, behaves as EventStoreDB 23.10
	// and 24.10: the v1 services only.
	ProfileEventStoreDB Profile = ""
	// ProfileKurrentDB behaves as KurrentDB 25.1: the v1 services plus the
	// v2 streams service's AppendSession (multi-stream appends), which
	// ServerFeatures advertises; the reported version defaults to
	// KurrentDBVersion and MaxAppendSize to KurrentDBMaxAppendSize.
	ProfileKurrentDB Profile = "kurrentdb"
)

// ParseProfile returns the profile named s: "kurrentdb", or "eventstoredb"
// (or "") for ProfileEventStoreDB. Other names are an error.
func ParseProfile(s string) (Profile, error) {
	switch s {
	case "", "eventstoredb":
		return ProfileEventStoreDB, nil
	case string(ProfileKurrentDB):
		return ProfileKurrentDB, nil
	}
	return "", fmt.Errorf("esdbtest: unknown profile %q (want eventstoredb or kurrentdb)", s)
}

// KurrentDBVersion is the version a ProfileKurrentDB server reports unless
// Options.Version says otherwise: the first release with AppendSession.
const KurrentDBVersion = "25.1.0"

// KurrentDBMaxAppendSize is the largest append, and the largest
// AppendSession transaction, a ProfileKurrentDB server accepts unless
// Options.MaxAppendSize says otherwise: KurrentDB's default, one chunk
// (256 MiB). gRPC messages are still limited to 64 MiB each.
const KurrentDBMaxAppendSize = 256 << 20

// DefaultMaxRecordSize is the largest record AppendSession accepts unless
// Options.MaxRecordSize says otherwise: KurrentDB's default
// MaxAppendEventSize (16 MiB).
const DefaultMaxRecordSize = 16 << 20

// v2StreamsServiceName is the service as ServerFeatures names it: KurrentDB
// lists gRPC services and methods in lower case.
const v2StreamsServiceName = "kurrentdb.protocol.v2.streams.streamsservice"

// v2StreamsService implements KurrentDB's v2 StreamsService over the store.
type v2StreamsService struct {
	v2.UnimplementedStreamsServiceServer
	srv *Server
}

// sessionPart is one validated AppendRequest of a session.
type sessionPart struct {
	stream string
	// rawExpected is the request's expected_revision field as sent (0 when
	// absent), which conflicts report.
	rawExpected int64
	exp         expectation
	evs         []proposed
}

// AppendSession reads the whole session, validating each request as it
// arrives as KurrentDB does (an invalid request, a stream sent twice, a
// record or transaction over its size limit, or a denied write ends the call
// at once with its error), then commits every stream or none.
func (v *v2StreamsService) AppendSession(srv v2.StreamsService_AppendSessionServer) error {
	ctx := srv.Context()
	var parts []sessionPart
	total := 0
	records := 0
	for {
		req, err := srv.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if err := validateAppendRequest(req); err != nil {
			return err
		}
		if accessDenied(ctx) {
			return v2AccessDenied(req.GetStream())
		}
		for _, p := range parts {
			// KurrentDB compares stream names ignoring case here.
			if strings.EqualFold(p.stream, req.GetStream()) {
				return v2StreamAlreadyInSession(req.GetStream())
			}
		}
		part := sessionPart{stream: req.GetStream(), rawExpected: req.GetExpectedRevision(), exp: v2Expectation(req)}
		for _, rec := range req.GetRecords() {
			ev, size, err := prepareRecord(rec)
			if err != nil {
				return err
			}
			if limit := v.srv.maxRecordSize(); size > limit {
				return v2RecordSizeExceeded(req.GetStream(), ev.id.String(), size, limit)
			}
			total += size
			records++
			if limit := v.srv.maxAppendSize(); total > limit {
				return v2TransactionSizeExceeded(records, total, limit)
			}
			part.evs = append(part.evs, ev)
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return v2Error(codes.FailedPrecondition, "APPEND_SESSION_NO_REQUESTS", "streams",
			"Append session started, but no append requests were sent before ending the session.")
	}
	in := make([]sessionAppend, len(parts))
	for i, p := range parts {
		in[i] = sessionAppend{name: p.stream, exp: p.exp, evs: p.evs}
	}
	out := v.srv.store.appendSession(in)
	if out.failed >= 0 {
		p := parts[out.failed]
		if out.deleted {
			return v2StreamTombstoned(p.stream)
		}
		return v2RevisionConflict(p.stream, p.rawExpected, out.wrong.current)
	}
	if err := v.srv.faults.lostAnswer(); err != nil {
		return err
	}
	resp := &v2.AppendSessionResponse{Position: int64(out.position)}
	for i, p := range parts {
		resp.Output = append(resp.Output, &v2.AppendResponse{Stream: p.stream, StreamRevision: out.revisions[i]})
	}
	return srv.SendAndClose(resp)
}

// v2Expectation maps an expected_revision (absent: any) to an expectation.
func v2Expectation(req *v2.AppendRequest) expectation {
	if req.ExpectedRevision == nil {
		return expectation{kind: expectAny}
	}
	switch r := req.GetExpectedRevision(); r {
	case int64(v2.ExpectedRevisionConstants_EXPECTED_REVISION_CONSTANTS_NO_STREAM):
		return expectation{kind: expectNoStream}
	case int64(v2.ExpectedRevisionConstants_EXPECTED_REVISION_CONSTANTS_ANY):
		return expectation{kind: expectAny}
	case int64(v2.ExpectedRevisionConstants_EXPECTED_REVISION_CONSTANTS_EXISTS):
		return expectation{kind: expectStreamExists}
	default:
		return expectation{kind: expectRevision, revision: uint64(r)}
	}
}

// validateAppendRequest applies KurrentDB's AppendRequest rules.
func validateAppendRequest(req *v2.AppendRequest) error {
	var bad []fieldViolation
	switch req.GetStream() {
	case "":
		bad = append(bad, fieldViolation{"Stream", "Stream must not be empty."})
	case "$$":
		bad = append(bad, fieldViolation{"Stream", "Stream must not be '$$'."})
	}
	if r := req.GetExpectedRevision(); r < 0 && r != -1 && r != -2 && r != -4 {
		bad = append(bad, fieldViolation{"ExpectedRevision",
			"Expected revision must be positive or one of the allowed constants: NoStream (-1), Any (-2) or Exists (-4)."})
	}
	if len(req.GetRecords()) == 0 {
		bad = append(bad, fieldViolation{"Records", "Stream append request must contain at least one record"})
	}
	return v2BadRequest(bad)
}

// schemaName is KurrentDB's rule for schema names (event types).
var schemaName = regexp.MustCompile(`^[\p{L}\p{N}_.$:-]+$`)

// schemaFormatNames are the schema formats as KurrentDB writes them into
// the $schema.format property.
var schemaFormatNames = map[v2.SchemaFormat]string{
	v2.SchemaFormat_SCHEMA_FORMAT_JSON:     "Json",
	v2.SchemaFormat_SCHEMA_FORMAT_PROTOBUF: "Protobuf",
	v2.SchemaFormat_SCHEMA_FORMAT_AVRO:     "Avro",
	v2.SchemaFormat_SCHEMA_FORMAT_BYTES:    "Bytes",
}

// prepareRecord validates rec and turns it into the event KurrentDB stores,
// with its size as KurrentDB counts it against the limits: data, the
// properties as a protobuf Struct, and the schema name.
//
// KurrentDB stores a record's properties (plus $schema.format unless the
// format is JSON, and $schema.id when given) beside the event, and v1 reads
// show them as the event's custom metadata: a JSON object of the properties
// followed by $schema.name (the event type) and, for JSON records,
// $schema.format. The content type is application/json for JSON records and
// application/octet-stream otherwise.
func prepareRecord(rec *v2.AppendRecord) (proposed, int, error) {
	var bad []fieldViolation
	id := uuid.New()
	if rec.RecordId != nil {
		parsed, err := uuid.Parse(rec.GetRecordId())
		if err != nil || parsed == uuid.Nil {
			bad = append(bad, fieldViolation{"RecordId", "Record ID must be a valid and non-empty UUID."})
		}
		id = parsed
	}
	format := rec.GetSchema().GetFormat()
	formatName, known := schemaFormatNames[format]
	switch {
	case format == v2.SchemaFormat_SCHEMA_FORMAT_UNSPECIFIED:
		bad = append(bad, fieldViolation{"Schema.Format", "Schema format must not be Unspecified."})
	case !known:
		bad = append(bad, fieldViolation{"Schema.Format", "Schema format must be one of Json, Protobuf or Bytes."})
	}
	name := rec.GetSchema().GetName()
	switch {
	case name == "":
		bad = append(bad, fieldViolation{"Schema.Name", "Schema name must not be empty"})
	case !schemaName.MatchString(name):
		bad = append(bad, fieldViolation{"Schema.Name", "Schema name can only contain unicode letters, digits, underscores, dashes, periods, colons, and dollar signs. Attempted Value: " + name})
	}
	props := newOrderedProps(rec.GetProperties())
	for _, k := range props.keys {
		if k == "" {
			bad = append(bad, fieldViolation{"Properties", "Property keys must not be empty."})
		}
		if !hasKind(props.values[k]) {
			bad = append(bad, fieldViolation{"Properties", "Property values must have a type set."})
		}
	}
	if err := v2BadRequest(bad); err != nil {
		return proposed{}, 0, err
	}
	if format != v2.SchemaFormat_SCHEMA_FORMAT_JSON {
		props.set("$schema.format", structpb.NewStringValue(formatName))
	}
	if rec.GetSchema().Id != nil {
		props.set("$schema.id", structpb.NewStringValue(rec.GetSchema().GetId()))
	}
	size := len(rec.GetData()) + proto.Size(&structpb.Struct{Fields: props.values}) + len(name)

	props.set("$schema.name", structpb.NewStringValue(name))
	ct := contentBinary
	if format == v2.SchemaFormat_SCHEMA_FORMAT_JSON {
		props.set("$schema.format", structpb.NewStringValue(formatName))
		ct = contentJSON
	}
	return proposed{id: id, eventType: name, contentType: ct, data: rec.GetData(), meta: props.json()}, size, nil
}

func hasKind(v *structpb.Value) bool {
	switch k := v.GetKind().(type) {
	case nil:
		return false
	case *structpb.Value_StructValue:
		for _, f := range k.StructValue.GetFields() {
			if !hasKind(f) {
				return false
			}
		}
	case *structpb.Value_ListValue:
		for _, e := range k.ListValue.GetValues() {
			if !hasKind(e) {
				return false
			}
		}
	}
	return true
}

// orderedProps is a property map that keeps insertion order, as the map
// KurrentDB renders to JSON does. The record's own properties come first,
// sorted by key, since a protobuf map has no order on the wire.
type orderedProps struct {
	keys   []string
	values map[string]*structpb.Value
}

func newOrderedProps(m map[string]*structpb.Value) *orderedProps {
	p := &orderedProps{values: make(map[string]*structpb.Value, len(m)+3)}
	for k, v := range m {
		p.keys = append(p.keys, k)
		p.values[k] = v
	}
	sort.Strings(p.keys)
	return p
}

func (p *orderedProps) set(k string, v *structpb.Value) {
	if _, ok := p.values[k]; !ok {
		p.keys = append(p.keys, k)
	}
	p.values[k] = v
}

// json renders the properties the way KurrentDB's protobuf JSON formatter
// does: `{ "key": value, ... }`.
func (p *orderedProps) json() []byte {
	var b strings.Builder
	writeObject(&b, p.keys, p.values)
	return []byte(b.String())
}

func writeObject(b *strings.Builder, keys []string, values map[string]*structpb.Value) {
	if len(keys) == 0 {
		b.WriteString("{ }")
		return
	}
	b.WriteString("{ ")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		writeJSONString(b, k)
		b.WriteString(": ")
		writeValue(b, values[k])
	}
	b.WriteString(" }")
}

func writeValue(b *strings.Builder, v *structpb.Value) {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NullValue:
		b.WriteString("null")
	case *structpb.Value_BoolValue:
		b.WriteString(strconv.FormatBool(k.BoolValue))
	case *structpb.Value_NumberValue:
		b.WriteString(strconv.FormatFloat(k.NumberValue, 'g', -1, 64))
	case *structpb.Value_StringValue:
		writeJSONString(b, k.StringValue)
	case *structpb.Value_StructValue:
		f := k.StructValue.GetFields()
		keys := make([]string, 0, len(f))
		for key := range f {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		writeObject(b, keys, f)
	case *structpb.Value_ListValue:
		vals := k.ListValue.GetValues()
		if len(vals) == 0 {
			b.WriteString("[ ]")
			return
		}
		b.WriteString("[ ")
		for i, e := range vals {
			if i > 0 {
				b.WriteString(", ")
			}
			writeValue(b, e)
		}
		b.WriteString(" ]")
	default:
		b.WriteString("null")
	}
}

// writeJSONString escapes as the protobuf JSON formatter does: quotes,
// backslashes and control characters, and the HTML-sensitive characters
// as \u escapes.
func writeJSONString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '<', '>', '&', '=', '\'':
			b.WriteString(`\u00`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&15])
		default:
			if r < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hex[r>>4])
				b.WriteByte(hex[r&15])
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// KurrentDB's v2 errors: a google.rpc.Status whose first detail is a
// google.rpc.ErrorInfo (reason: the error code without its enum prefix;
// domain: the enum's name without "Error", in lower case), followed by the
// error's own detail message, which clients map to their error types.

func v2Error(code codes.Code, reason, domain, msg string, details ...proto.Message) error {
	all := append([]proto.Message{&errdetails.ErrorInfo{Reason: reason, Domain: domain}}, details...)
	st := &rpcstatus.Status{Code: int32(code), Message: msg}
	for _, d := range all {
		a, err := anypb.New(d)
		if err != nil {
			// Only a message without a registered type fails to pack, and
			// every detail here is a generated type.
			panic("esdbtest: packing an error detail: " + err.Error())
		}
		st.Details = append(st.Details, a)
	}
	return status.ErrorProto(st)
}

func v2RevisionConflict(stream string, expected, actual int64) error {
	return v2Error(codes.FailedPrecondition, "STREAM_REVISION_CONFLICT", "streams",
		fmt.Sprintf("Append failed due to a revision conflict on stream '%s'. Expected revision: %d. Actual revision: %d.", stream, expected, actual),
		&v2errors.StreamRevisionConflictErrorDetails{Stream: stream, ExpectedRevision: expected, ActualRevision: actual})
}

func v2StreamTombstoned(stream string) error {
	return v2Error(codes.FailedPrecondition, "STREAM_TOMBSTONED", "streams",
		"Stream '"+stream+"' has been tombstoned. It has been permanently removed from the system and cannot be restored.",
		&v2errors.StreamTombstonedErrorDetails{Stream: stream})
}

func v2StreamAlreadyInSession(stream string) error {
	return v2Error(codes.Aborted, "STREAM_ALREADY_IN_APPEND_SESSION", "streams",
		"Stream '"+stream+"' already has a different group of messages in this session. "+
			"Appends for the same stream must currently be grouped together and not interleaved with appends for other streams.",
		&v2errors.StreamAlreadyInAppendSessionErrorDetails{Stream: stream})
}

func v2RecordSizeExceeded(stream, recordID string, size, limit int) error {
	return v2Error(codes.InvalidArgument, "APPEND_RECORD_SIZE_EXCEEDED", "streams",
		fmt.Sprintf("The size of record %s (%s) exceeds the maximum allowed size of %s bytes by %s",
			recordID, humanBytes(size), humanBytes(limit), humanBytes(size-limit)),
		&v2errors.AppendRecordSizeExceededErrorDetails{Stream: stream, RecordId: recordID, Size: int32(size), MaxSize: int32(limit)})
}

func v2TransactionSizeExceeded(records, size, limit int) error {
	return v2Error(codes.Aborted, "APPEND_TRANSACTION_SIZE_EXCEEDED", "streams",
		fmt.Sprintf("Transaction size (%s) exceeded the maximum allowed size of %s by %s, after %d record(s).",
			humanBytes(size), humanBytes(limit), humanBytes(size-limit), records),
		&v2errors.AppendTransactionSizeExceededErrorDetails{Size: int32(size), MaxSize: int32(limit)})
}

// v2AccessDenied is KurrentDB's answer to a write the caller may not do:
// the operation is named by its claim, streams:write:<stream>.
func v2AccessDenied(stream string) error {
	op := "streams:write:" + strings.ToLower(stream)
	return v2Error(codes.PermissionDenied, "ACCESS_DENIED", "server",
		"Access denied. Insufficient permissions to perform "+op,
		&servererrors.AccessDeniedErrorDetails{Operation: op})
}

type fieldViolation struct{ field, description string }

// v2BadRequest is KurrentDB's answer to an invalid request (nil if bad is
// empty): google.rpc.BadRequest with one violation per broken rule.
func v2BadRequest(bad []fieldViolation) error {
	if len(bad) == 0 {
		return nil
	}
	msg := "The 'AppendRequest' is invalid:"
	if len(bad) == 1 {
		msg += " " + bad[0].description
	} else {
		msg += "\n"
		for _, f := range bad {
			msg += " -- " + f.description + "\n"
		}
	}
	d := &errdetails.BadRequest{}
	for _, f := range bad {
		d.FieldViolations = append(d.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: f.field, Description: f.description})
	}
	return v2Error(codes.InvalidArgument, "BAD_REQUEST", "server", msg, d)
}

// humanBytes renders n as KurrentDB's messages do, in binary units with
// three decimals ("1.500 KB").
func humanBytes(n int) string {
	units := []string{"B", "KB", "MB", "GB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return strconv.FormatFloat(f, 'f', 3, 64) + " " + units[i]
}
