package config

import "testing"

func TestBankConfigLoads(t *testing.T) {
	c, err := Load("../../examples/bank/bulwark.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(c.Services), 4; got != want {
		t.Fatalf("services: got %d, want %d", got, want)
	}
}
