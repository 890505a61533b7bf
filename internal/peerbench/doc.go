// Package peerbench measures the ox client against the Go loggers an application
// would otherwise choose (log/slog's JSON handler, go.uber.org/zap,
// github.com/rs/zerolog) on the same work: the README's request example, a
// request record with four fields and a sub-record with two. It is a module of
// its own so that the main module does not require the peers; its benchmarks are
// in peer_test.go and run with `make peerbench`.
package peerbench
