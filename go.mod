module github.com/blueox/ox

go 1.24.0

require (
	github.com/go-zeromq/zmq4 v0.17.0
	github.com/shamaton/msgpack/v2 v2.4.0
)

require (
	github.com/go-zeromq/goczmq/v4 v4.2.2 // indirect
	golang.org/x/sync v0.7.0 // indirect
	golang.org/x/text v0.15.0 // indirect
)
