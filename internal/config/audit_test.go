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
	if c.Audit.FsyncInterval != 50*time.Millisecond {
		t.Errorf("default fsync_interval: got %s, want 50ms", c.Audit.FsyncInterval)
	}
	c, err = Parse("bulwark.yaml", []byte(minimal+"audit:\n  durability: fsync\n"))
	if err != nil || c.Audit.Durability != "fsync" || c.Audit.FsyncInterval != 0 {
		t.Fatalf("fsync: got %q %s, %v; want fsync and no interval", c.Audit.Durability, c.Audit.FsyncInterval, err)
	}
	c, err = Parse("bulwark.yaml", []byte(minimal+"audit:\n  fsync_interval: 5ms\n"))
	if err != nil || c.Audit.FsyncInterval != 5*time.Millisecond {
		t.Fatalf("fsync_interval 5ms: got %s, %v", c.Audit.FsyncInterval, err)
	}
	for bad, want := range map[string]string{
		"  fsync_interval: 2s\n":                       "audit.fsync_interval: must be between 1ms and 1s, got 2s",
		"  fsync_interval: 100us\n":                    "audit.fsync_interval: must be between 1ms and 1s, got 100µs",
		"  durability: fsync\n  fsync_interval: 5ms\n": `audit.fsync_interval: only applies to durability "write"`,
	} {
		if _, err := Parse("bulwark.yaml", []byte(minimal+"audit:\n"+bad)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", bad, err, want)
		}
	}
	_, err = Parse("bulwark.yaml", []byte(minimal+"audit:\n  durability: eventually\n"))
	if err == nil || !strings.Contains(err.Error(), `audit.durability: must be "write" or "fsync", got "eventually"`) {
		t.Errorf("bad value: got %v", err)
	}
}
