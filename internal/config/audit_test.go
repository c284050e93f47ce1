package config

import (
	"strings"
	"testing"
	"time"
)

func TestAuditCheckpointInterval(t *testing.T) {
	c, err := Parse("bulwark.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Audit.CheckpointInterval != 5*time.Second || c.Audit.WitnessDir != "" {
		t.Errorf("defaults: got %v %q, want 5s and no witness", c.Audit.CheckpointInterval, c.Audit.WitnessDir)
	}
	c, err = Parse("bulwark.yaml", []byte(minimal+"audit:\n  checkpoint_interval: 30s\n  witness_dir: /mnt/witness\n"))
	if err != nil || c.Audit.CheckpointInterval != 30*time.Second || c.Audit.WitnessDir != "/mnt/witness" {
		t.Fatalf("set: got %+v, %v", c.Audit, err)
	}
	for _, bad := range []string{"100ms", "2h"} {
		_, err := Parse("bulwark.yaml", []byte(minimal+"audit:\n  checkpoint_interval: "+bad+"\n"))
		if err == nil || !strings.Contains(err.Error(), "audit.checkpoint_interval: must be between 1s and 1h") {
			t.Errorf("checkpoint_interval %s: got %v", bad, err)
		}
	}
}

func TestAuditDurability(t *testing.T) {
	c, err := Parse("bulwark.yaml", []byte(minimal))
	if err != nil || c.Audit.Durability != "write" {
		t.Fatalf("default: got %q, %v; want write", c.Audit.Durability, err)
	}
	c, err = Parse("bulwark.yaml", []byte(minimal+"audit:\n  durability: fsync\n"))
	if err != nil || c.Audit.Durability != "fsync" {
		t.Fatalf("fsync: got %q, %v", c.Audit.Durability, err)
	}
	_, err = Parse("bulwark.yaml", []byte(minimal+"audit:\n  durability: eventually\n"))
	if err == nil || !strings.Contains(err.Error(), `audit.durability: must be "write" or "fsync", got "eventually"`) {
		t.Errorf("bad value: got %v", err)
	}
}
