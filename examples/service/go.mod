module example.com/service

go 1.25.0

require (
	github.com/google/uuid v1.6.0
	github.com/streamwright/eventsourcing v0.0.0
)

replace github.com/streamwright/eventsourcing => ../..
