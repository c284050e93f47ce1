package cli

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulwark-security/bulwark/internal/oidc"
)

func newTokenCmd() *cobra.Command {
	var stateDir, user, client, clientID, redirectURI, passwordFile, issuer, caBundle string
	var scopes []string
	cmd := &cobra.Command{
		Use:   "token --state-dir DIR (--user NAME | --client NAME)",
		Short: "Get an access token from the running issuer and print it alone on stdout",
		Long: `With --user, runs the authorization code + PKCE (S256) flow against the issuer the
way a browser would, logging in with the password from <state>/dev-credentials.json (or
--password-file). With --client, uses the client credentials grant with the client's secret
from dev-credentials.json.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (user == "") == (client == "") {
				return &exitError{code: 2, err: errors.New("give exactly one of --user or --client")}
			}
			ep := &Endpoints{Issuer: issuer, CABundle: caBundle}
			if issuer == "" || caBundle == "" {
				fromFile, err := readEndpoints(stateDir)
				if err != nil {
					return fmt.Errorf("read endpoints (is `bulwark up` running with --state-dir %s? otherwise pass --issuer and --ca-bundle): %w", stateDir, err)
				}
				if ep.Issuer == "" {
					ep.Issuer = fromFile.Issuer
				}
				if ep.CABundle == "" {
					ep.CABundle = fromFile.CABundle
				}
			}
			pool, err := loadPool(ep.CABundle)
			if err != nil {
				return err
			}
			hc := &http.Client{
				Timeout:   30 * time.Second,
				Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
			}
			var tok string
			if user != "" {
				pw, err := secretFor(stateDir, passwordFile, func(c *oidc.DevCredentials) string { return c.Users[user] }, "user "+user)
				if err != nil {
					return err
				}
				tok, err = oidc.LoginWithPassword(cmd.Context(), hc, ep.Issuer, clientID, redirectURI, user, pw)
				if err != nil {
					return fmt.Errorf("log in as %s: %w", user, err)
				}
			} else {
				secret, err := secretFor(stateDir, passwordFile, func(c *oidc.DevCredentials) string { return c.Clients[client] }, "client "+client)
				if err != nil {
					return err
				}
				tok, err = oidc.ClientCredentials(cmd.Context(), hc, ep.Issuer, client, secret, scopes)
				if err != nil {
					return fmt.Errorf("client credentials for %s: %w", client, err)
				}
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", "./.bulwark", "state directory of the running `bulwark up`")
	cmd.Flags().StringVar(&user, "user", "", "log in as this user (authorization code + PKCE)")
	cmd.Flags().StringVar(&client, "client", "", "use the client credentials grant as this client")
	cmd.Flags().StringVar(&clientID, "client-id", "bulwark-cli", "public client used for --user")
	cmd.Flags().StringVar(&redirectURI, "redirect-uri", "http://127.0.0.1/callback", "redirect URI registered for --client-id")
	cmd.Flags().StringVar(&passwordFile, "password-file", "", "file holding the password or client secret (default: dev-credentials.json)")
	cmd.Flags().StringVar(&issuer, "issuer", "", "issuer URL (default: from <state-dir>/endpoints.json)")
	cmd.Flags().StringVar(&caBundle, "ca-bundle", "", "PEM bundle that verifies the issuer's TLS (default: from endpoints.json)")
	cmd.Flags().StringSliceVar(&scopes, "scope", nil, "scopes to request with --client")
	return cmd
}

// secretFor reads a password from file, or from the dev credentials. Secrets are never
// flag values, so they stay out of shell history and process listings.
func secretFor(stateDir, file string, pick func(*oidc.DevCredentials) string, what string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	creds, err := oidc.ReadDevCredentials(stateDir)
	if err != nil {
		return "", fmt.Errorf("read dev credentials: %w", err)
	}
	s := pick(creds)
	if s == "" {
		return "", fmt.Errorf("no dev credential for %s in %s", what, stateDir)
	}
	return s, nil
}
