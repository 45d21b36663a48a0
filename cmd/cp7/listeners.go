package main

import (
	"context"
	"flag"
	"log/slog"

	"github.com/cp7/cp7/server"
)

// listenerFlags are the flags of the TLS, WebSocket, PROXY protocol and
// admin listeners.
type listenerFlags struct{}

func (f *listenerFlags) register(fs *flag.FlagSet)    {}
func (f *listenerFlags) apply(c *server.Config) error { return nil }
func (f *listenerFlags) reload(log *slog.Logger)      {}
func (f *listenerFlags) start(ctx context.Context, srv *server.Server, log *slog.Logger) (func(), error) {
	return func() {}, nil
}
