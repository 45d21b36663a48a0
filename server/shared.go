package server

// redistributeShared hands the unacknowledged and queued messages a session
// received through shared subscriptions to another member of each group, as
// the session ends [MQTT-4.8.2-6]. Owner only.
func (l *loop) redistributeShared(s *session) {
	if s.st == nil {
		return
	}
	for _, list := range [2][]*outbound{s.st.inflight, s.st.queue} {
		for _, o := range list {
			if o.opt.group == "" {
				continue
			}
			d, ok := l.srv.router.PickShared(o.opt.group, o.opt.filter, s)
			if !ok {
				continue
			}
			next, ok := d.Client.(*session)
			if !ok {
				continue
			}
			opt := o.opt
			opt.qos = d.QoS
			opt.subIDs = d.SubIDs
			opt.ref = 0 // the old member's stored reference is dropped with it
			l.event(evRedelivered)
			l.deliver(next, o.m, opt)
		}
	}
}
