package main

import (
	"fmt"
	"os"
	"sync"

	"github.com/panjf2000/gnet/v2"
)

// gnetRelay is the gnet engine: the relay's protocol on gnet event loops,
// written the plain way (no broker state, no batching across loops): replies
// and same-loop deliveries with Write, deliveries to another loop's
// connection with AsyncWrite, the subscription hub under one lock.
type gnetRelay struct {
	gnet.BuiltinEventEngine
	mu   sync.RWMutex
	hub  *hub[gnet.Conn]
	boot chan gnet.Engine // if not nil, receives the engine once it is up (tests)
}

func runGnet(listen string, loops int) error {
	r := &gnetRelay{hub: newHub[gnet.Conn]()}
	fmt.Fprintf(os.Stderr, "floor: gnet engine listening on %s\n", listen)
	return r.run(listen, loops)
}

func (r *gnetRelay) run(listen string, loops int) error {
	opts := []gnet.Option{gnet.WithMulticore(true), gnet.WithTCPNoDelay(gnet.TCPNoDelay)}
	if loops > 0 {
		opts = []gnet.Option{gnet.WithNumEventLoop(loops), gnet.WithTCPNoDelay(gnet.TCPNoDelay)}
	}
	return gnet.Run(r, "tcp://"+listen, opts...)
}

func (r *gnetRelay) OnBoot(eng gnet.Engine) gnet.Action {
	if r.boot != nil {
		r.boot <- eng
	}
	return gnet.None
}

func (r *gnetRelay) OnTraffic(c gnet.Conn) gnet.Action {
	data, _ := c.Peek(c.InboundBuffered())
	var reply []byte
	used, ok := frames(data, func(first byte, body, frame []byte) bool {
		if first>>4 == 8 { // SUBSCRIBE changes the hub
			r.mu.Lock()
			defer r.mu.Unlock()
		} else {
			r.mu.RLock()
			defer r.mu.RUnlock()
		}
		return packet(r.hub, c, first, body, frame,
			func(b ...byte) { reply = append(reply, b...) },
			func(to gnet.Conn, frame []byte) {
				if to.EventLoop() == c.EventLoop() {
					_, _ = to.Write(frame)
				} else {
					_ = to.AsyncWrite(append([]byte(nil), frame...), nil)
				}
			})
	})
	if used > 0 {
		_, _ = c.Discard(used) // never 0: gnet drops everything buffered for n <= 0
	}
	if len(reply) > 0 {
		_, _ = c.Write(reply)
	}
	if !ok {
		return gnet.Close
	}
	return gnet.None
}

func (r *gnetRelay) OnClose(c gnet.Conn, _ error) gnet.Action {
	r.mu.Lock()
	r.hub.drop(c)
	r.mu.Unlock()
	return gnet.None
}
