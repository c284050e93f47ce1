package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bulwark-security/bulwark/internal/config"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with bulwark.yaml"}
	var file string
	validate := &cobra.Command{
		Use:   "validate -f FILE",
		Short: "Check a config file and print every problem with its line and key path",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := config.Load(file); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("invalid config:\n%w", err)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", file)
			return nil
		},
	}
	validate.Flags().StringVarP(&file, "file", "f", "bulwark.yaml", "config file")
	cmd.AddCommand(validate)
	return cmd
}
