package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRefuseUpgrade(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"plain request", nil, http.StatusOK},
		{"websocket", map[string]string{"Upgrade": "websocket", "Connection": "Upgrade"}, http.StatusNotImplemented},
		{"h2c", map[string]string{"Upgrade": "h2c", "Connection": "Upgrade, HTTP2-Settings"}, http.StatusNotImplemented},
		{"connection upgrade alone", map[string]string{"Connection": "keep-alive, upgrade"}, http.StatusNotImplemented},
		{"keep-alive", map[string]string{"Connection": "keep-alive"}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reached := false
			h := RefuseUpgrade(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
			r := httptest.NewRequest(http.MethodGet, "/ws", nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("status: got %d, want %d", w.Code, tt.want)
			}
			if reached != (tt.want == http.StatusOK) {
				t.Errorf("next handler reached: got %v, want %v", reached, tt.want == http.StatusOK)
			}
		})
	}
}
