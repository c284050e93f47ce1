// Command bulwark is the zero-trust security layer in one binary: gateway, sidecar, control
// plane, and `up` to run them all with the reference bank. See internal/cli.
package main

import (
	"os"

	"github.com/bulwark-security/bulwark/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
