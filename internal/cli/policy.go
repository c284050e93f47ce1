package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bulwark-security/bulwark/internal/policy/authz"
)

// newPolicyCmd is `bulwark policy`: work with Cedar policies.
func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Work with authorization policies"}
	cmd.AddCommand(&cobra.Command{
		Use:   "test FILE",
		Short: "Run policy test cases (request → expected decision); exit 1 on a mismatch, 2 on a bad file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tf, err := authz.LoadTestFile(args[0])
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("invalid test file:\n%w", err)}
			}
			engine, err := tf.Engine()
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("load policies:\n%w", err)}
			}
			if failed := tf.Run(engine, cmd.OutOrStdout()); failed > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d policy test(s) failed", failed)}
			}
			return nil
		},
	})
	return cmd
}
