package bank

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

var notificationsSchema = []string{
	`CREATE TABLE IF NOT EXISTS events (
		id          TEXT PRIMARY KEY,
		type        TEXT NOT NULL,
		caller      TEXT NOT NULL,
		body        TEXT NOT NULL,
		received_at TEXT NOT NULL
	) STRICT`,
}

func (a *App) notificationsRoutes(mux *http.ServeMux) {
	mux.Handle("POST /events", a.handle(a.postEvent))
}

// eventAccepted is what notifications answers for a stored event.
type eventAccepted struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// postEvent stores one event: a JSON object with a "type" and any other fields, which are
// kept as sent (re-encoded, so the stored text is always valid JSON).
func (a *App) postEvent(w http.ResponseWriter, r *http.Request) error {
	var ev map[string]json.RawMessage
	if err := decodeStrict(w, r, &ev); err != nil {
		return err
	}
	var typ string
	if raw, ok := ev["type"]; !ok || json.Unmarshal(raw, &typ) != nil || !eventTypeRE.MatchString(typ) {
		return badRequest("type is missing or malformed")
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	id := "evt_" + rand.Text()
	if _, err := a.db.ExecContext(r.Context(), `INSERT INTO events (id, type, caller, body, received_at) VALUES ($1, $2, $3, $4, $5)`,
		id, typ, callerFrom(r).Workload, string(body), time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("store event: %w", err)
	}
	writeJSON(w, http.StatusAccepted, eventAccepted{ID: id, Status: "accepted"})
	return nil
}
