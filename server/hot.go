package server

import (
	"sort"
	"sync"
	"time"
)

// Busiest topics: each loop samples one PUBLISH in hotSampleEvery into a
// small space-saving table (hotSlots entries, Misra-Gries style), so the
// publish path pays one increment and one branch per message; a sample that
// hits a known topic costs a short scan and no allocation. The counts halve
// every hotHalfLife, so the table follows what is busy now.
const (
	hotSampleEvery = 256 // a power of two
	hotSlots       = 32
	hotHalfLife    = 30 * time.Second
)

type hotTopics struct {
	n       uint32 // publishes seen (owner only)
	mu      sync.Mutex
	slots   [hotSlots]hotSlot
	decayAt time.Time
}

type hotSlot struct {
	topic string
	count uint64
}

// sample counts one publish on topic. Owner only.
func (h *hotTopics) sample(topic []byte) {
	h.n++
	if h.n&(hotSampleEvery-1) != 0 {
		return
	}
	h.mu.Lock()
	min := 0
	for i := range h.slots {
		s := &h.slots[i]
		if s.count != 0 && s.topic == string(topic) {
			s.count++
			h.mu.Unlock()
			return
		}
		if s.count < h.slots[min].count {
			min = i
		}
	}
	s := &h.slots[min]
	s.topic, s.count = string(topic), s.count+1 // space-saving: inherit the evicted count
	h.mu.Unlock()
}

// decay halves the counts once per half-life. Owner only (loop tick).
func (h *hotTopics) decay(now time.Time) {
	if now.Before(h.decayAt) {
		return
	}
	h.mu.Lock()
	if !h.decayAt.IsZero() {
		for i := range h.slots {
			h.slots[i].count /= 2
		}
	}
	h.decayAt = now.Add(hotHalfLife)
	h.mu.Unlock()
}

// TopicRate is an estimate of how busy a topic is.
type TopicRate struct {
	Topic string `json:"topic"`
	// Messages is an estimate of the publishes in about the last
	// minute (sampled, decaying): compare topics with it, do not bill by it.
	Messages uint64 `json:"messages"`
}

// BusiestTopics returns up to n topics with the most publishes lately,
// merged over the loops.
func (srv *Server) BusiestTopics(n int) []TopicRate {
	sum := map[string]uint64{}
	srv.loopsMu.Lock()
	for l := range srv.loops {
		if l.hot == nil {
			continue
		}
		l.hot.mu.Lock()
		for _, s := range l.hot.slots {
			if s.count != 0 {
				sum[s.topic] += s.count * hotSampleEvery
			}
		}
		l.hot.mu.Unlock()
	}
	srv.loopsMu.Unlock()
	out := make([]TopicRate, 0, len(sum))
	for t, c := range sum {
		out = append(out, TopicRate{t, c})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Messages != out[j].Messages {
			return out[i].Messages > out[j].Messages
		}
		return out[i].Topic < out[j].Topic
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
