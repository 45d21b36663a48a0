// Package pool holds CP7's pooled byte buffers and the reference-counted
// encodings shared by the deliveries of one message.
package pool

import (
	"github.com/valyala/bytebufferpool"
)

// MaxPooled is the largest capacity a buffer may have and still go back to a
// pool. Larger buffers (a rare 100 MiB publish) are left to the garbage
// collector, so one outlier cannot pin its memory in a pool for good.
const MaxPooled = 1 << 20

// Buffer is a byte buffer from the pool. Append to B; B[:0] on Get.
//
// Its layout is bytebufferpool.ByteBuffer's, so the two convert freely.
type Buffer struct {
	B []byte
}

// general is the pool behind Get and Put. bytebufferpool counts Put calls by
// power-of-two size class and calibrates itself: new buffers get the most
// common class's size, and buffers above the 95th percentile class are
// dropped rather than pooled.
var general bytebufferpool.Pool

// Get returns an empty buffer (len 0). Return it with Put when done.
// Safe for concurrent use.
func Get() *Buffer {
	return (*Buffer)(general.Get())
}

// Put returns b to the pool; b must not be used afterwards. A nil b is ignored;
// buffers whose capacity exceeds MaxPooled are dropped. Safe for concurrent use.
func Put(b *Buffer) {
	if b == nil || cap(b.B) > MaxPooled {
		return
	}
	general.Put((*bytebufferpool.ByteBuffer)(b))
}
