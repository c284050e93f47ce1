package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwark-security/bulwark/examples/bank"
)

func TestListenLocal(t *testing.T) {
	dir, err := os.MkdirTemp("", "bankcmd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	tests := []struct {
		addr        string
		loopbackTCP bool
		wantErr     bool
	}{
		{"127.0.0.1:0", true, false},
		{"[::1]:0", true, false},
		{"127.0.0.1:0", false, true}, // TCP only when asked for: any local process could connect
		{"[::1]:0", false, true},
		{"unix:" + filepath.Join(dir, "a.sock"), false, false},
		{"0.0.0.0:0", true, true},
		{"[::]:0", true, true},
		{"192.0.2.1:8080", true, true},
		{"localhost:0", true, true}, // names are refused: they could resolve anywhere
		{":8080", true, true},
		{"unix:", false, true},
		{"", false, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s,tcp=%v", tt.addr, tt.loopbackTCP), func(t *testing.T) {
			ln, err := listenLocal(tt.addr, tt.loopbackTCP)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("listenLocal(%q) error = %v, want error %v", tt.addr, err, tt.wantErr)
			}
			if ln != nil {
				ln.Close()
			}
		})
	}
}

func TestUnixSocketIsPrivateAndStaleOneReplaced(t *testing.T) {
	dir, err := os.MkdirTemp("", "bankcmd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s.sock")
	for i := range 2 { // the second listen finds the first one's socket file
		ln, err := listenLocal("unix:"+sock, false)
		if err != nil {
			t.Fatalf("listen %d: %v", i, err)
		}
		fi, err := os.Stat(sock)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("socket mode = %o, want 600", got)
		}
		if i == 0 {
			// Leave the file behind, as a killed process would.
			if ul, ok := ln.(interface{ SetUnlinkOnClose(bool) }); ok {
				ul.SetUnlinkOnClose(false)
			}
		}
		ln.Close()
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"help", []string{"-h"}, 0},
		{"unknown flag", []string{"-nope"}, 2},
		{"no data dir", []string{"-service", "ledger", "-listen", "127.0.0.1:0", "-unsafe-loopback-tcp"}, 1},
		{"public listen", []string{"-service", "ledger", "-listen", "0.0.0.0:0", "-unsafe-loopback-tcp", "-data", dir}, 1},
		{"loopback TCP without the unsafe flag", []string{"-service", "ledger", "-listen", "127.0.0.1:0", "-data", dir}, 1},
		{"unknown service", []string{"-service", "vault", "-listen", "127.0.0.1:0", "-unsafe-loopback-tcp", "-data", dir}, 1},
		{"accounts without mesh", []string{"-service", "accounts", "-listen", "127.0.0.1:0", "-unsafe-loopback-tcp", "-data", dir}, 1},
		{"unknown store", []string{"-service", "ledger", "-listen", "127.0.0.1:0", "-unsafe-loopback-tcp", "-data", dir, "-store", "mysql"}, 1},
		{"postgres without mesh or DSN file", []string{"-service", "ledger", "-listen", "127.0.0.1:0", "-unsafe-loopback-tcp", "-store", "postgres"}, 1},
		{"DSN file without postgres", []string{"-service", "ledger", "-listen", "127.0.0.1:0", "-unsafe-loopback-tcp", "-data", dir, "-unsafe-postgres-dsn-file", filepath.Join(dir, "x.dsn")}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(tt.args, io.Discard); got != tt.want {
				t.Errorf("run(%q) = %d, want %d", tt.args, got, tt.want)
			}
		})
	}
}

// TestServeUntil serves the ledger on a unix socket, answers a request through it, and
// stops cleanly when the context ends.
func TestServeUntil(t *testing.T) {
	dir, err := os.MkdirTemp("", "bankcmd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	log := slog.New(slog.DiscardHandler)
	app, err := bank.New("ledger", filepath.Join(dir, "data"), nil, log)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	sock := filepath.Join(dir, "ledger.sock")
	ln, err := listenLocal("unix:"+sock, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveUntil(ctx, ln, app.Handler(), log) }()

	resp, err := bank.MeshClient(sock).Get("http://ledger/balances/A-1001")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d, want 200", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serveUntil = %v, want nil after cancel", err)
	}
}
