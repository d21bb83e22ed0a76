package esdb

import (
	"regexp"
	"strings"

	"github.com/google/uuid"
)

// Stream names. An application's aggregate streams are named
// "<application>-<uuid>"; its notification log is every event of $all whose
// stream name matches exactly that shape, so records of other applications,
// system streams, metastreams ($$...), snapshot streams and tracking streams
// never match. Snapshot and tracking streams end in a suffix that no
// aggregate stream of any application can have.
//
// A tracking stream is "<application>.tracking(<upstream>)" with '%', '('
// and ')' percent-encoded in both names, so that every (application,
// upstream) pair has a stream of its own: unescaped, application "a"
// tracking "b).tracking(c" and application "a.tracking(b" tracking "c"
// would share one. Names without those three characters read as before.
type names struct {
	app    string
	prefix string         // app + "-"
	re     *regexp.Regexp // ^app-<uuid>$
	regex  string
}

const uuidPattern = `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`

func newNames(app string) names {
	regex := "^" + regexp.QuoteMeta(app) + "-" + uuidPattern + "$"
	return names{app: app, prefix: app + "-", re: regexp.MustCompile(regex), regex: regex}
}

// aggregate is the stream of aggregate id.
func (n names) aggregate(id uuid.UUID) string { return n.prefix + id.String() }

// snapshots is the stream of aggregate id's snapshots.
func (n names) snapshots(id uuid.UUID) string { return n.prefix + id.String() + ".snapshots" }

// tracking is the stream of the application's tracking of upstream. With
// '(' escaped, the first '(' of the name ends the application's part and the
// last ')' the upstream's; escaping '%' too keeps each part decodable, so
// no two pairs share a stream.
func (n names) tracking(upstream string) string {
	return escapeName(n.app) + ".tracking(" + escapeName(upstream) + ")"
}

// nameEscaper percent-encodes the characters that delimit the parts of a
// tracking stream's name.
var nameEscaper = strings.NewReplacer("%", "%25", "(", "%28", ")", "%29")

func escapeName(s string) string { return nameEscaper.Replace(s) }

// originator returns the aggregate id of one of the application's aggregate
// streams, and false for any other stream.
func (n names) originator(stream string) (uuid.UUID, bool) {
	rest, ok := strings.CutPrefix(stream, n.prefix)
	if !ok || len(rest) != 36 || !n.re.MatchString(stream) {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(rest)
	return id, err == nil
}
