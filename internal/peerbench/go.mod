module github.com/blueox/ox/internal/peerbench

go 1.24.0

require (
	github.com/blueox/ox v0.0.0
	github.com/go-zeromq/zmq4 v0.17.0
	github.com/rs/zerolog v1.35.1
	go.uber.org/zap v1.28.0
)

require (
	github.com/go-zeromq/goczmq/v4 v4.2.2 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/shamaton/msgpack/v2 v2.4.0 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	golang.org/x/sync v0.7.0 // indirect
	golang.org/x/sys v0.29.0 // indirect
	golang.org/x/text v0.15.0 // indirect
)

replace github.com/blueox/ox => ../..
