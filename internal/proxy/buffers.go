package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"sync"
)

// copyBufferSize is the size of httputil.ReverseProxy's own copy buffer: pooling keeps the
// throughput of large bodies unchanged.
const copyBufferSize = 32 << 10

// CopyBuffers is the pool of response-copy buffers that every reverse proxy of the data
// plane (NewReverseProxy, the sidecar's proxy to its app) sets as its BufferPool. Without
// it, ReverseProxy allocates and zeroes a new 32 KiB buffer for every response it copies:
// with three proxies on a request's path that was most of the bytes bulwark up allocated
// per request, and so most of its garbage-collection work. A buffer holds no data between
// uses that a later use could read: the proxy only writes out what it has just read in.
var CopyBuffers httputil.BufferPool = &bufferPool{}

type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() []byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, copyBufferSize)
}

func (p *bufferPool) Put(b []byte) {
	if cap(b) != copyBufferSize {
		return // not one of ours: let it go
	}
	b = b[:copyBufferSize]
	p.pool.Put(&b)
}

// maxCoalescedBody is the largest request body NewReverseProxy reads into memory before
// sending it (coalesceBody). It is http.Transport's write buffer size: a larger body
// leaves in several writes anyway.
const maxCoalescedBody = 4 << 10

// coalesceBody reads a request body of known length, at most maxCoalescedBody, into
// memory before next sends the request. net/http flushes a request's headers on their own
// unless its body is already in memory, so a proxied POST (the app's calls to the key
// service, say) would otherwise leave in two writes and two TLS records instead of one.
// GetBody stays unset, so what may be retried does not change.
type coalesceBody struct{ next http.RoundTripper }

func (c coalesceBody) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.ContentLength <= 0 || r.ContentLength > maxCoalescedBody || r.Body == nil || r.Body == http.NoBody || r.GetBody != nil {
		return c.next.RoundTrip(r) // no body, a large one, or one already in memory
	}
	body := make([]byte, r.ContentLength)
	_, err := io.ReadFull(r.Body, body)
	_ = r.Body.Close() // a RoundTripper always closes the body; ours replaces it
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	out := new(http.Request)
	*out = *r // as Request.WithContext does; the headers are not written to
	out.Body = io.NopCloser(bytes.NewReader(body))
	return c.next.RoundTrip(out)
}
