package server

// idSet holds packet identifiers (inbound QoS 2 between PUBREC and PUBREL):
// a slice while small, a map once it passes idSetMapMin, so neither a small
// set costs a map nor a large one a linear scan per packet. Owner only.
type idSet struct {
	s []uint16
	m map[uint16]struct{}
}

const idSetMapMin = 32

func (x *idSet) len() int {
	if x.m != nil {
		return len(x.m)
	}
	return len(x.s)
}

func (x *idSet) has(id uint16) bool {
	if x.m != nil {
		_, ok := x.m[id]
		return ok
	}
	for _, v := range x.s {
		if v == id {
			return true
		}
	}
	return false
}

// add inserts id (the caller checked it is absent).
func (x *idSet) add(id uint16) {
	if x.m != nil {
		x.m[id] = struct{}{}
		return
	}
	x.s = append(x.s, id)
	if len(x.s) >= idSetMapMin {
		x.m = make(map[uint16]struct{}, 2*len(x.s))
		for _, v := range x.s {
			x.m[v] = struct{}{}
		}
		x.s = x.s[:0]
	}
}

// remove deletes id and reports whether it was there.
func (x *idSet) remove(id uint16) bool {
	if x.m != nil {
		if _, ok := x.m[id]; !ok {
			return false
		}
		delete(x.m, id)
		if len(x.m) == 0 {
			x.m = nil
		}
		return true
	}
	for i, v := range x.s {
		if v == id {
			x.s[i] = x.s[len(x.s)-1]
			x.s = x.s[:len(x.s)-1]
			return true
		}
	}
	return false
}

// reset empties the set for reuse, keeping a small slice.
func (x *idSet) reset() idSet {
	if cap(x.s) > spareSliceCap {
		return idSet{}
	}
	return idSet{s: x.s[:0]}
}

// ids returns the identifiers in the set (a new slice when it is a map).
func (x *idSet) ids() []uint16 {
	if x.m == nil {
		return x.s
	}
	out := make([]uint16, 0, len(x.m))
	for id := range x.m {
		out = append(out, id)
	}
	return out
}
