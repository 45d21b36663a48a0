package server

import (
	"math"
	"strconv"
	"time"
)

// $SYS topics, with Mosquitto's names, published retained every
// Config.SysInterval from the server's ticker: one snapshot (Metrics), one
// task on the parking loop that routes them all. Subscribers see them as
// the ACL allows, like any topic; "#" does not match them [MQTT-4.7.2-1].

// sysLoad is an exponentially weighted moving average per minute, as
// Mosquitto's $SYS/broker/load/.../1min, 5min, 15min.
type sysLoad struct {
	avg  [3]float64
	last uint64
	init bool
}

var sysLoadWindows = [3]struct {
	name string
	d    time.Duration
}{{"1min", time.Minute}, {"5min", 5 * time.Minute}, {"15min", 15 * time.Minute}}

// update feeds the counter's total after interval and returns the averages
// (events per minute).
func (s *sysLoad) update(total uint64, interval time.Duration) [3]float64 {
	if !s.init {
		s.init, s.last = true, total
		return s.avg
	}
	perMin := float64(total-s.last) * float64(time.Minute) / float64(interval)
	s.last = total
	for i, w := range sysLoadWindows {
		k := math.Exp(-float64(interval) / float64(w.d))
		s.avg[i] = perMin + k*(s.avg[i]-perMin)
	}
	return s.avg
}

// sysState is the ticker's $SYS bookkeeping (ticker goroutine only).
type sysState struct {
	next                               time.Time
	recv, sent, bytesIn, bytesOut, con sysLoad
}

// sysTick publishes $SYS when the interval has passed. Ticker goroutine.
func (srv *Server) sysTick(st *sysState, now time.Time) {
	iv := srv.cfg.SysInterval
	if iv <= 0 || now.Before(st.next) {
		return
	}
	st.next = now.Add(iv)
	m := srv.Metrics()
	msgs := sysMessages(&m, st, iv)
	p := srv.parking
	if p == nil {
		return
	}
	p.post(func() {
		for _, msg := range msgs {
			p.publishLocal(msg)
		}
	})
}

// sysMessages builds the $SYS messages of one snapshot.
func sysMessages(m *Metrics, st *sysState, iv time.Duration) []*Message {
	var out []*Message
	put := func(topic, v string) {
		out = append(out, &Message{Topic: []byte("$SYS/broker/" + topic), Payload: []byte(v), Retain: true, owned: true})
	}
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }
	put("version", m.Version)
	put("uptime", strconv.FormatInt(int64(m.Uptime.Seconds()), 10)+" seconds")
	put("clients/connected", i(m.ConnectedTotal))
	put("clients/active", i(m.ConnectedTotal))
	put("clients/disconnected", i(m.SessionsOffline))
	put("clients/inactive", i(m.SessionsOffline))
	put("clients/total", i(m.Sessions))
	put("messages/received", u(m.MessagesReceived()))
	put("messages/sent", u(m.MessagesSent()))
	put("publish/messages/received", u(m.MessagesReceived()))
	put("publish/messages/sent", u(m.MessagesSent()))
	put("publish/messages/dropped", u(m.DroppedTotal))
	for _, r := range dropNames {
		put("publish/messages/dropped/"+r, u(m.Dropped[r]))
	}
	put("messages/inflight", i(m.Inflight))
	put("messages/stored", i(m.Queued+int64(m.Retained)))
	put("store/messages/count", i(m.Queued+int64(m.Retained)))
	put("bytes/received", u(m.NetBytesIn))
	put("bytes/sent", u(m.NetBytesOut))
	put("subscriptions/count", i(int64(m.Subscriptions)))
	put("retained messages/count", i(int64(m.Retained)))
	loads := []struct {
		name  string
		l     *sysLoad
		total uint64
	}{
		{"messages/received", &st.recv, m.MessagesReceived()},
		{"messages/sent", &st.sent, m.MessagesSent()},
		{"bytes/received", &st.bytesIn, m.NetBytesIn},
		{"bytes/sent", &st.bytesOut, m.NetBytesOut},
		{"connections", &st.con, m.Connects},
	}
	for _, ld := range loads {
		avg := ld.l.update(ld.total, iv)
		for w, win := range sysLoadWindows {
			put("load/"+ld.name+"/"+win.name, f(avg[w]))
		}
	}
	return out
}
