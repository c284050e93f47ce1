package revocation

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// FeedPath is where the control plane serves the feed, outside the issuer's /oidc path so
// that the gateway never forwards a client's request to it.
const FeedPath = "/control/v1/revocations"

// Feed limits.
const (
	MaxWait      = 20 * time.Second // below the control listener's 30s write timeout
	maxBatch     = 10000            // entries per answer
	maxEpochSize = 64
)

// Handler serves l as a long poll (see the package doc). Bad parameters get a JSON 400
// with a stable code and the request id, and change nothing.
func Handler(l *List) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			proxy.WriteError(w, r, http.StatusMethodNotAllowed, proxy.CodeBadRequest, "use GET")
			return
		}
		q := r.URL.Query()
		epoch := q.Get("epoch")
		seq, err := parseUint(q.Get("since"))
		if err != nil {
			proxy.WriteError(w, r, http.StatusBadRequest, proxy.CodeBadRequest, "since: want a sequence number")
			return
		}
		waitSec, err := parseUint(q.Get("wait"))
		if err != nil || waitSec > uint64(MaxWait/time.Second) {
			proxy.WriteError(w, r, http.StatusBadRequest, proxy.CodeBadRequest, "wait: want whole seconds from 0 to 20")
			return
		}
		if len(epoch) > maxEpochSize {
			proxy.WriteError(w, r, http.StatusBadRequest, proxy.CodeBadRequest, "epoch: too long")
			return
		}
		b, changed := l.since(epoch, seq, maxBatch)
		if len(b.Entries) == 0 && !b.Reset && waitSec > 0 {
			t := time.NewTimer(time.Duration(waitSec) * time.Second)
			defer t.Stop()
			select {
			case <-changed:
				b, _ = l.since(epoch, seq, maxBatch)
			case <-t.C:
			case <-r.Context().Done():
				return
			}
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(b)
	})
}

// parseUint accepts "" as 0 and otherwise only decimal digits.
func parseUint(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	return strconv.ParseUint(s, 10, 64)
}
