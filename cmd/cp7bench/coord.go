package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// coordinator drives the workers through the phases of a run (connect,
// hold or publish, drain, stop), samples the broker and builds the Summary.
// Only the goroutine that calls run touches it.
type coordinator struct {
	cfg    *config
	ws     []worker
	procs  int
	stdout io.Writer
	stderr io.Writer
	sig    <-chan os.Signal
	tty    bool
	broker *brokerProc

	interrupted bool
	rssPeak     int64
	lastSample  time.Time
	lastDraw    time.Time
	drawn       bool
	prev        nodeStats
	prevAt      time.Time
}

const pollEvery = 50 * time.Millisecond

// sum adds up the workers' latest counters.
func (c *coordinator) sum() (s nodeStats) {
	s.Ready, s.PubDone = true, true
	for _, w := range c.ws {
		x := w.stats()
		s = addStats(s, x)
	}
	return s
}

func addStats(s, x nodeStats) nodeStats {
	s.Conns += x.Conns
	s.ConnFail += x.ConnFail
	s.Up += x.Up
	s.Sent += x.Sent
	s.Acked += x.Acked
	s.Recv += x.Recv
	s.Errors += x.Errors
	s.Skipped += x.Skipped
	if x.Expected < 0 || s.Expected < 0 {
		s.Expected = -1
	} else {
		s.Expected += x.Expected
	}
	if x.ConnStart != 0 && (s.ConnStart == 0 || x.ConnStart < s.ConnStart) {
		s.ConnStart = x.ConnStart
	}
	s.ConnEnd = max(s.ConnEnd, x.ConnEnd)
	s.Ready = s.Ready && x.Ready
	s.PubDone = s.PubDone && x.PubDone
	return s
}

// waitUntil polls until done holds, limit passes or an interrupt arrives,
// drawing progress and sampling the broker on the way. It returns false when
// done did not hold.
func (c *coordinator) waitUntil(limit time.Duration, done func(nodeStats) bool) bool {
	deadline := time.Now().Add(limit)
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		s := c.sum()
		c.tick(s)
		if done != nil && done(s) {
			return true
		}
		if c.interrupted || !time.Now().Before(deadline) {
			return false
		}
		select {
		case <-c.sig:
			c.interrupted = true
			fmt.Fprintln(c.stderr, "\ncp7bench: interrupted; stopping and reporting what was measured")
		case <-t.C:
		}
	}
}

// tick samples the broker's RSS every 250 ms and redraws the progress line
// once a second, on a terminal only.
func (c *coordinator) tick(s nodeStats) {
	now := time.Now()
	if c.broker != nil && now.Sub(c.lastSample) >= 250*time.Millisecond {
		c.lastSample = now
		if kb, err := c.broker.rssKB(); err == nil {
			c.rssPeak = max(c.rssPeak, kb)
		}
	}
	if !c.tty || now.Sub(c.lastDraw) < time.Second {
		return
	}
	var out, in float64
	if !c.prevAt.IsZero() {
		dt := now.Sub(c.prevAt).Seconds()
		out = float64(s.Sent-c.prev.Sent) / dt
		in = float64(s.Recv-c.prev.Recv) / dt
	}
	c.prev, c.prevAt, c.lastDraw = s, now, now
	fmt.Fprintf(c.stdout, "\r%s  conns up %d/%d  failed %d  out %.0f msg/s  in %.0f msg/s  errors %d   ",
		c.cfg.mode, s.Up, c.cfg.subs+c.cfg.pubs, s.ConnFail, out, in, s.Errors)
	c.drawn = true
}

// run performs the whole run and returns its summary; the error says what
// kept it from being complete.
func (c *coordinator) run() (Summary, error) {
	cfg := c.cfg
	sum := unknownSummary()
	sum.Mode, sum.Procs, sum.Pubs, sum.Subs = cfg.mode, c.procs, cfg.pubs, cfg.subs
	sum.QoS, sum.PayloadSize = cfg.qos, cfg.size
	if cfg.pubs > 0 {
		sum.OfferedRate = cfg.rate * float64(cfg.pubs)
	}
	var runErr error
	rss0 := int64(-1)
	if c.broker != nil {
		kb, err := c.broker.rssKB()
		if err != nil {
			return sum, err
		}
		rss0, c.rssPeak = kb, kb
	}

	// Connect phase: every handshake and the phase itself are bounded.
	connectLimit := cfg.connLimit + cfg.connTO + 10*time.Second
	if !c.waitUntil(connectLimit, func(s nodeStats) bool { return s.Ready }) && !c.interrupted {
		runErr = fmt.Errorf("cp7bench: the connect phase did not end within %v", connectLimit)
	}

	var cpu0, user0 int64 = -1, -1
	var window, recvWindow time.Duration
	if cfg.mode == "conn" {
		if !c.interrupted {
			c.waitUntil(cfg.duration, nil) // hold the idle connections
		}
	} else if !c.interrupted {
		if c.broker != nil {
			if t, u, err := c.broker.cpuTicks(); err == nil {
				cpu0, user0 = t, u
			}
		}
		t0 := time.Now()
		for _, w := range c.ws {
			w.begin()
		}
		if cfg.pubs > 0 {
			c.waitUntil(cfg.duration+10*time.Second, func(s nodeStats) bool { return s.PubDone })
		} else {
			c.waitUntil(cfg.duration, nil)
		}
		window = time.Since(t0)
		recvWindow = c.drain(t0)
	}

	// Broker figures at the end of the window, before the clients leave.
	if c.broker != nil {
		if kb, err := c.broker.rssKB(); err == nil {
			sum.BrokerRSSKB = kb
			sum.BrokerRSSDel = kb - rss0
			c.rssPeak = max(c.rssPeak, kb)
			sum.BrokerRSSPk = c.rssPeak
		}
		if cpu0 >= 0 {
			if cpu1, user1, err := c.broker.cpuTicks(); err == nil {
				sum.BrokerCPUms = float64(cpu1-cpu0) * 1000 / clockTicks
				sum.BrokerUserCPUms = float64(user1-user0) * 1000 / clockTicks
			}
		}
	}

	final, hist, err := c.stopAll()
	if err != nil && runErr == nil {
		runErr = err
	}
	if c.drawn {
		fmt.Fprintln(c.stdout)
	}
	c.fill(&sum, final, hist, window, recvWindow)
	if c.interrupted && runErr == nil {
		runErr = errors.New("cp7bench: interrupted; the summary covers the run until then")
	}
	return sum, runErr
}

// drain waits, after publishing, for the deliveries and acks still on their
// way: until everything expected arrived, nothing moved for a second, or
// -drain passed. It returns the time from t0 to the last delivery seen.
func (c *coordinator) drain(t0 time.Time) time.Duration {
	cfg := c.cfg
	last := c.sum()
	lastMove := time.Now()
	if cfg.pubs > 0 && !c.interrupted {
		c.waitUntil(cfg.drain, func(s nodeStats) bool {
			if s.Recv != last.Recv || s.Acked != last.Acked {
				last, lastMove = s, time.Now()
			}
			complete := (s.Expected < 0 || s.Recv >= s.Expected) && (cfg.qos == 0 || s.Acked >= s.Sent)
			return complete || time.Since(lastMove) >= time.Second
		})
	} else {
		lastMove = time.Now()
	}
	return lastMove.Sub(t0)
}

// stopAll stops every worker and merges their final reports.
func (c *coordinator) stopAll() (nodeStats, *Histogram, error) {
	for _, w := range c.ws {
		w.stop()
	}
	total := nodeStats{Ready: true, PubDone: true}
	hist := new(Histogram)
	var firstErr error
	for _, w := range c.ws {
		f, err := w.final()
		if err != nil && firstErr == nil {
			firstErr = err
		}
		total = addStats(total, f.Stats)
		hist.mergeWire(f.Hist)
	}
	return total, hist, firstErr
}

// fill computes the summary's derived fields.
func (c *coordinator) fill(sum *Summary, s nodeStats, h *Histogram, window, recvWindow time.Duration) {
	sum.Conns, sum.ConnFail, sum.Errors = s.Conns, s.ConnFail, s.Errors
	if s.ConnStart > 0 && s.ConnEnd > s.ConnStart {
		sum.ConnectSec = float64(s.ConnEnd-s.ConnStart) / 1e9
		sum.ConnectRate = float64(s.Conns) / sum.ConnectSec
	}
	sum.Sent, sum.Acked, sum.Recv = s.Sent, s.Acked, s.Recv
	sum.DurationSec = window.Seconds()
	if window > 0 {
		sum.SendRate = float64(s.Sent) / window.Seconds()
	}
	if recvWindow > 0 {
		sum.RecvRate = float64(s.Recv) / recvWindow.Seconds()
	}
	if s.Expected >= 0 && c.cfg.mode == "pubsub" {
		sum.Expected = s.Expected
		sum.Lost = max(s.Expected-s.Recv, 0)
	}
	us := func(ns uint64) float64 { return float64(ns/100) / 10 } // 0.1 us resolution
	sum.P50us, sum.P90us, sum.P99us = us(h.Quantile(0.50)), us(h.Quantile(0.90)), us(h.Quantile(0.99))
	sum.MaxUs = us(h.Max())
	if sum.BrokerCPUms >= 0 {
		n := float64(max(s.Recv, 0))
		if n == 0 {
			n = float64(s.Sent)
		}
		if n > 0 {
			sum.BrokerCPUMsg = sum.BrokerCPUms * 1000 / n
			sum.BrokerUserCPUMsg = sum.BrokerUserCPUms * 1000 / n
		}
	}
	if c.broker != nil && sum.BrokerRSSKB >= 0 && s.Conns > 0 {
		sum.BrokerBPConn = float64(sum.BrokerRSSDel) * 1024 / float64(s.Conns)
	}
}
