package server

import (
	"container/heap"
	"sort"

	"github.com/cp7/cp7/router"
)

// topK keeps the max smallest topics offered (a max-heap on topic), for
// paging retained messages in topic order without sorting them all.
type topK struct {
	max   int
	items []topicMsg
}

type topicMsg struct {
	topic string
	m     *Message
}

func (t *topK) Len() int           { return len(t.items) }
func (t *topK) Less(i, j int) bool { return t.items[i].topic > t.items[j].topic }
func (t *topK) Swap(i, j int)      { t.items[i], t.items[j] = t.items[j], t.items[i] }
func (t *topK) Push(x any)         { t.items = append(t.items, x.(topicMsg)) }
func (t *topK) Pop() any {
	n := len(t.items) - 1
	x := t.items[n]
	t.items = t.items[:n]
	return x
}

func (t *topK) offer(topic string, m *Message) {
	if len(t.items) < t.max {
		heap.Push(t, topicMsg{topic, m})
		return
	}
	if topic < t.items[0].topic {
		t.items[0] = topicMsg{topic, m}
		heap.Fix(t, 0)
	}
}

func (t *topK) sorted() []topicMsg {
	sort.Slice(t.items, func(i, j int) bool { return t.items[i].topic < t.items[j].topic })
	return t.items
}

func validPublishTopic(topic string) bool {
	return len(topic) <= 65535 && router.ValidTopicName([]byte(topic))
}
