package main

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/panjf2000/gnet/v2"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

var engines = []string{"epoll", "gnet"}

// startRelay runs a relay with the named engine on a free loopback port. The
// epoll engine runs for the rest of the test binary (its loop has no stop;
// the process ends it); the gnet engine stops with the test.
func startRelay(t *testing.T, engine string) string {
	t.Helper()
	if engine == "gnet" {
		r := &gnetRelay{hub: newHub[gnet.Conn](), boot: make(chan gnet.Engine, 1)}
		done := make(chan error, 1)
		go func() { done <- r.run("127.0.0.1:0", 2) }()
		var eng gnet.Engine
		select {
		case eng = <-r.boot:
		case err := <-done:
			t.Fatalf("gnet engine did not start: %v", err)
		case <-time.After(5 * time.Second):
			t.Fatal("gnet engine did not boot within 5 s")
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = eng.Stop(ctx)
		})
		fd, err := eng.Dup()
		require.NoError(t, err)
		defer unix.Close(fd)
		sa, err := unix.Getsockname(fd)
		require.NoError(t, err)
		return fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	}
	r, err := newRelay("127.0.0.1:0")
	require.NoError(t, err)
	go func() {
		runtime.LockOSThread()
		_ = r.loop()
	}()
	return r.addr.String()
}

func connect(t *testing.T, addr, id string) mqtt.Client {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(5*time.Second), "CONNACK did not arrive")
	require.NoError(t, tok.Error())
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// TestRelaysToExactSubscribers: the relay carries QoS 0 and QoS 1 from a
// real client library to the connections subscribed to exactly that topic,
// acknowledges QoS 1, and sends nothing to other topics' subscribers.
func TestRelaysToExactSubscribers(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			addr := startRelay(t, engine)
			got := make(chan mqtt.Message, 10)
			other := make(chan mqtt.Message, 10)
			sub := connect(t, addr, "sub")
			tok := sub.Subscribe("bench/a", 1, func(_ mqtt.Client, m mqtt.Message) { got <- m })
			require.True(t, tok.WaitTimeout(5*time.Second))
			require.NoError(t, tok.Error())
			sub2 := connect(t, addr, "sub2")
			tok = sub2.Subscribe("bench/b", 1, func(_ mqtt.Client, m mqtt.Message) { other <- m })
			require.True(t, tok.WaitTimeout(5*time.Second))

			pub := connect(t, addr, "pub")
			for qos, payload := range []string{"zero", "one"} {
				tok := pub.Publish("bench/a", byte(qos), false, payload)
				require.True(t, tok.WaitTimeout(5*time.Second), "QoS %d publish not acknowledged", qos)
				require.NoError(t, tok.Error())
				select {
				case m := <-got:
					require.Equal(t, "bench/a", m.Topic())
					require.Equal(t, payload, string(m.Payload()))
					require.Equal(t, byte(qos), m.Qos())
				case <-time.After(5 * time.Second):
					t.Fatalf("QoS %d message was not relayed", qos)
				}
			}
			// A marker on bench/b shows sub2 has had time to receive anything
			// wrongly sent its way before it.
			require.True(t, pub.Publish("bench/b", 1, false, "marker").WaitTimeout(5*time.Second))
			select {
			case m := <-other:
				require.Equal(t, "marker", string(m.Payload()))
			case <-time.After(5 * time.Second):
				t.Fatal("marker on bench/b was not relayed")
			}
		})
	}
}

// TestFramesSplitAcrossReads: a CONNECT sent one byte per write still gets
// its CONNACK, and a stream that is not MQTT framing is closed.
func TestFramesSplitAcrossReads(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			addr := startRelay(t, engine)
			c, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer c.Close()
			connectPkt := []byte{0x10, 0x0e, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 2, 'i', 'd'}
			for _, b := range connectPkt {
				_, err := c.Write([]byte{b})
				require.NoError(t, err)
				time.Sleep(time.Millisecond) // separate segments, not a wait for a result
			}
			require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
			ack := make([]byte, 4)
			_, err = readFull(c, ack)
			require.NoError(t, err)
			require.Equal(t, []byte{0x20, 0x02, 0x00, 0x00}, ack)

			// A remaining length of five continuation bytes is not MQTT.
			_, err = c.Write([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x7f})
			require.NoError(t, err)
			_, err = c.Read(make([]byte, 1))
			require.Error(t, err, "the relay should close a stream with a malformed length")
		})
	}
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestRelaysToWildcardSubscribers: fan-in's subscriber uses a + filter.
func TestRelaysToWildcardSubscribers(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			addr := startRelay(t, engine)
			got := make(chan string, 10)
			sub := connect(t, addr, "sub")
			tok := sub.Subscribe("bench/in/+", 0, func(_ mqtt.Client, m mqtt.Message) { got <- m.Topic() })
			require.True(t, tok.WaitTimeout(5*time.Second))
			require.NoError(t, tok.Error())
			pub := connect(t, addr, "pub")
			for _, topic := range []string{"bench/other/1", "bench/in/1"} {
				require.True(t, pub.Publish(topic, 1, false, "x").WaitTimeout(5*time.Second))
			}
			select {
			case topic := <-got:
				require.Equal(t, "bench/in/1", topic, "only the matching topic is relayed")
			case <-time.After(5 * time.Second):
				t.Fatal("bench/in/1 was not relayed to bench/in/+")
			}
		})
	}
}
